#include "cli/trial_proposer.h"

#include <ftsdk/error.h>

#include <algorithm>

namespace ft {
namespace {

TrialSoFar::State state_of(const std::string& state) {
  if (state == "running") return TrialSoFar::State::running;
  if (state == "completed") return TrialSoFar::State::completed;
  if (state == "pruned") return TrialSoFar::State::pruned;
  if (state == "failed") return TrialSoFar::State::failed;
  return TrialSoFar::State::waiting;
}

}  // namespace

TrialProposer trial_proposer(const SweepPlan& sweep, Sampler& sampler) {
  return [&sweep, &sampler](const std::vector<TrialRow>& rows) -> std::optional<NewTrial> {
    std::vector<TrialSoFar> trials;
    std::int64_t next = 0;
    for (const auto& row : rows) {
      TrialSoFar trial;
      trial.number = row.number;
      trial.state = state_of(row.state);
      trial.values = proposal_values(sweep.config, row.params);
      trial.objective = row.objective;
      trial.last_epoch = row.last_epoch;
      trial.last_value = row.last_value;
      trials.push_back(std::move(trial));
      next = std::max(next, row.number + 1);
    }
    const auto proposal = sampler.propose(next, trials, proposal_seed(sweep.config, next));
    if (!proposal) return std::nullopt;
    const SweepTrial trial = trial_from_proposal(sweep.config, next, proposal->values);
    return NewTrial{next, trial_values_text(trial), trial.seed,
                    proposal->proposed_by.empty() ? sweep.config.method : proposal->proposed_by};
  };
}

SweepTrial stored_trial(const SweepPlan& sweep, const std::vector<TrialRow>& trials, std::int64_t number) {
  if (number >= 0 && number < static_cast<std::int64_t>(sweep.trials.size())) {
    return sweep.trials[static_cast<std::size_t>(number)];
  }
  for (const auto& row : trials) {
    if (row.number == number)
      return trial_from_proposal(sweep.config, number, proposal_values(sweep.config, row.params));
  }
  throw StoreError("the store has no trial " + std::to_string(number) + " of this sweep");
}

}  // namespace ft
