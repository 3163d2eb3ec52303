#pragma once
// The pages `ftrun serve` sends: static HTML that holds no value from the store, one script and one style sheet,
// compiled into the binary (nothing is read from disk, so no request can reach a file by its path).

#include <string>

namespace ft {

/// GET /: the runs table with its search box.
extern const std::string kRunsPage;
/// GET /runs/ID: one run.
extern const std::string kRunPage;
/// GET /compare: runs overlaid (?runs=1,2), or grouped by a parameter (?key=optimizer.lr), stage by stage.
extern const std::string kComparePage;
/// GET /overfit: `ftrun overfit` per run, with small curves.
extern const std::string kOverfitPage;
/// GET /sweeps: every sweep, its trials by state.
extern const std::string kSweepsPage;
/// GET /sweeps/ID: one sweep's trials, the best so far, the objective against each parameter.
extern const std::string kSweepPage;
/// GET /static/app.js: fetches the JSON API and fills the pages with text nodes (never innerHTML).
extern const char* const kAppScript;
/// GET /static/style.css.
extern const char* const kStyleSheet;

}  // namespace ft
