#pragma once
// The commands that answer from the store: runs, show, compare, overfit, export. No LibTorch.

#include "store/results_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

enum class OutputFormat { table, json, csv };

/// The format --json and --csv ask for; a ConfigError when both are given.
OutputFormat output_format(bool json, bool csv);

struct RunsOptions {
  std::string store;
  std::string name, group, status, where, order_by;
  std::optional<std::int64_t> sweep;
  std::int64_t limit = 50;
  bool json = false, csv = false;
};

struct CompareOptions {
  std::string key, name, stage, store;
  std::optional<std::int64_t> sweep;
  bool json = false, csv = false;
};

struct OverfitOptions {
  std::vector<std::int64_t> runs;
  std::string name, where, store;
  std::optional<std::int64_t> sweep;
  std::int64_t limit = 1000;
  int patience = 3;
  bool json = false, csv = false;
};

/// The table `ftrun runs` prints.
void print_runs(const std::vector<RunSummary>& runs);

int command_runs(const RunsOptions& options);
int command_show(std::int64_t run_id, const std::string& store_path);
int command_compare(const CompareOptions& options);
/// What `ftrun compare --json` prints: stage by stage, each value's runs by outcome and its mean and spread.
nlohmann::json comparison_json(const ResultsStore& store, const CompareOptions& options);
int command_overfit(const OverfitOptions& options);
/// What `ftrun overfit --json` prints: per run, its best epoch, generalisation gap and onset of overfitting.
nlohmann::json overfit_json(const ResultsStore& store, const OverfitOptions& options);
int command_export(const std::vector<std::int64_t>& ids, const std::string& format, const std::string& store_path);

}  // namespace ft
