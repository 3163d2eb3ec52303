#include "store/reports.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

namespace ft {
namespace {

std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

void mean_and_std(const std::vector<double>& values, double& mean, double& std) {
  mean = std = std::nan("");
  if (values.empty()) return;
  double sum = 0;
  for (const double v : values) sum += v;
  mean = sum / static_cast<double>(values.size());
  if (values.size() < 2) return;
  double squares = 0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  std = std::sqrt(squares / static_cast<double>(values.size() - 1));
}

// The value of `monitor` at `row`, or NaN.
double metric(const EpochRow& row, const std::string& monitor) {
  if (monitor == "val_loss") return row.val_loss;
  if (monitor == "val_accuracy") return row.val_accuracy;
  if (monitor == "train_loss") return row.train_loss;
  if (monitor == "train_accuracy") return row.train_accuracy;
  // Any other metric a run can monitor is its task's (train.monitor is checked against the task before it runs);
  // the store keeps the primary one per epoch.
  if (monitor.rfind("val_", 0) == 0) return row.val_primary;
  if (monitor.rfind("train_", 0) == 0) return row.train_primary;
  return std::nan("");
}

}  // namespace

namespace {
double winner_value(const ValueGroup* group) { return group ? group->mean_best : std::nan(""); }
}  // namespace

std::vector<StageComparison> compare_by_stage(const std::vector<RunOutcome>& runs) {
  std::map<std::string, std::map<std::string, std::vector<const RunOutcome*>>> grouped;
  for (const auto& run : runs) grouped[run.stage][run.value].push_back(&run);
  std::vector<StageComparison> stages;
  for (const auto& [stage, by_value] : grouped) {
    StageComparison comparison;
    comparison.stage = stage;
    const RunOutcome* first = by_value.begin()->second.front();
    comparison.metric = first->primary_metric;
    comparison.higher_is_better = first->higher_is_better;
    for (const auto& [value, members] : by_value) {
      for (const RunOutcome* run : members) {
        if (run->primary_metric != comparison.metric) comparison.metric = "primary";
      }
      ValueGroup group;
      group.value = value;
      std::vector<double> best, final;
      for (const RunOutcome* run : members) {
        if (run->status == "completed") {
          ++group.completed;
          if (run->best_val_primary) best.push_back(*run->best_val_primary);
          if (run->final_val_primary) final.push_back(*run->final_val_primary);
        } else if (run->status == "failed") {
          ++group.failed;
        } else if (run->status == "diverged") {
          ++group.diverged;
        } else if (run->status == "pruned") {
          ++group.pruned;  // stopped early by a sweep's pruner: not a result to average with finished runs
        } else {
          ++group.other;
        }
      }
      mean_and_std(best, group.mean_best, group.std_best);
      mean_and_std(final, group.mean_final, group.std_final);
      comparison.values.push_back(group);
    }
    std::sort(comparison.values.begin(), comparison.values.end(), [](const ValueGroup& a, const ValueGroup& b) {
      const auto x = as_number(a.value), y = as_number(b.value);
      if (x && y) return *x < *y;
      if (x || y) return x.has_value();
      return a.value < b.value;
    });
    ValueGroup* winner = nullptr;
    for (auto& group : comparison.values) {
      if (std::isnan(group.mean_best)) continue;
      const bool better =
          comparison.higher_is_better ? group.mean_best > winner_value(winner) : group.mean_best < winner_value(winner);
      if (!winner || better) winner = &group;
    }
    if (winner) winner->best = true;
    stages.push_back(std::move(comparison));
  }
  return stages;
}

std::string overfitting_rule(int patience) {
  return "overfitting onset: the first evaluation of a rise of validation loss above its lowest earlier value that "
         "lasted at least " +
         std::to_string(patience) +
         " evaluation(s), never came back down, and during which training loss fell below its value before the "
         "rise (rises that came back down are counted as recovered)";
}

EpochFacts epoch_facts(const std::vector<EpochRow>& epochs, const std::string& monitor,
                       const std::string& monitor_mode) {
  EpochFacts facts;
  const bool higher_is_better =
      monitor_mode == "max" || (monitor_mode == "auto" && monitor.find("accuracy") != std::string::npos);
  const EpochRow* best = nullptr;
  const EpochRow* last_evaluated = nullptr;
  for (const auto& row : epochs) {
    facts.last_epoch = std::max(facts.last_epoch, row.epoch);
    const double value = metric(row, monitor);
    if (std::isnan(value)) continue;
    last_evaluated = &row;
    if (!best || (higher_is_better ? value > metric(*best, monitor) : value < metric(*best, monitor))) best = &row;
  }
  if (best) {
    facts.best_epoch = best->epoch;
    facts.gap_at_best = best->val_loss - best->train_loss;
  }
  if (last_evaluated) facts.gap_at_last = last_evaluated->val_loss - last_evaluated->train_loss;
  return facts;
}

OverfitReport overfit_report(const EpochFacts& facts, const std::vector<ValidationRise>& rises,
                             const std::string& monitor, int patience) {
  OverfitReport report;
  static_cast<EpochFacts&>(report) = facts;
  report.monitor = monitor;
  for (const auto& rise : rises) {
    if (rise.evaluations < patience || !(rise.lowest_train_loss < rise.train_loss_before)) continue;
    if (rise.recovered) {
      ++report.recovered_rises;
    } else if (!report.onset_epoch) {
      report.onset_epoch = rise.first_epoch;
    }
  }
  return report;
}

}  // namespace ft
