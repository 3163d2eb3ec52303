#pragma once
// The JSON (and SVG) answers of `ftrun serve`, computed from the store: plain functions, so they are tested without
// a server. Every value from the store reaches the browser as JSON and is put on the page as text, never as HTML.

#include <cstdint>
#include <string>

namespace ft {

class ResultsStore;

struct ApiAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

/// What GET /api/runs asks for: runs matching `where`, ordered by `order_by`, with the extra `columns` (ftrun
/// runs' language: parameter keys and metric summaries), `limit` (1 to 500) at a time from `offset`.
struct RunsQuery {
  std::string where, order_by, columns;
  std::int64_t limit = 50, offset = 0;
};

/// GET /api/runs: a page of runs (a mistake in the query is a 400 with its column); each run's `columns` holds
/// the chosen columns' values in order, and `more` says whether another page follows.
ApiAnswer runs_answer(const ResultsStore& store, const RunsQuery& query);

/// GET /api/runs/ID: one run's summary, resolved TOML, parameters, plugins and epochs (404 when there is none).
ApiAnswer run_answer(const ResultsStore& store, std::int64_t run_id);

/// GET /api/runs/ID/epochs: the run's status and its epoch rows, for a page that follows a running run.
ApiAnswer epochs_answer(const ResultsStore& store, std::int64_t run_id);

/// GET /api/runs/ID/curves.svg: `ftrun plot`'s learning curves of the run (train dashed, validation solid, the
/// best epoch and the overfitting onset marked).
ApiAnswer curves_answer(const ResultsStore& store, std::int64_t run_id);

/// GET /api/runs/ID/lr.svg: the learning rate of each parameter group at every step (warm-up, schedule, lr_mult).
ApiAnswer learning_rate_answer(const ResultsStore& store, std::int64_t run_id);

/// GET /api/curves.svg?runs=1,2,3: the learning curves of several runs overlaid (at most 20).
ApiAnswer runs_curves_answer(const ResultsStore& store, const std::string& runs);

/// GET /api/compare?key=optimizer.lr[&name=][&stage=]: `ftrun compare --json`, stage by stage.
ApiAnswer comparison_answer(const ResultsStore& store, const std::string& key, const std::string& name,
                            const std::string& stage, const std::string& sweep = {});

/// GET /api/compare.svg?key=...: `ftrun plot --compare`'s chart, the best validation value against the key.
ApiAnswer comparison_chart_answer(const ResultsStore& store, const std::string& key, const std::string& name,
                                  const std::string& stage, const std::string& sweep = {});

/// GET /api/overfit?where=&name=: `ftrun overfit --json` (the newest 200 runs that match).
ApiAnswer overfit_answer(const ResultsStore& store, const std::string& where, const std::string& name);

/// GET /api/sweeps: every sweep, newest first, with its trials counted by state.
ApiAnswer sweeps_answer(const ResultsStore& store);

/// GET /api/sweeps/ID: one sweep's trials (values, state, objective, where pruned ones stopped), the best so far
/// after each trial, and the swept keys.
ApiAnswer sweep_answer(const ResultsStore& store, std::int64_t sweep_id);

/// GET /api/sweeps/ID/chart.svg?key=K: the sweep's objective (its metric and direction) against parameter K, one
/// point per trial.
ApiAnswer sweep_chart_answer(const ResultsStore& store, std::int64_t sweep_id, const std::string& key);

}  // namespace ft
