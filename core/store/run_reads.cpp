// Reading runs back: one run, a filtered list, their parameters, metrics, epochs and checkpoints.
#include "store/results_store.h"

#include "store/reports.h"
#include "store/schema.h"
#include "store/store_internals.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace ft {

using namespace store_internals;

std::optional<ResultsStore::StoredRun> ResultsStore::find_run(std::int64_t run_id) const {
  return guarded(path_, "read a run", [&]() -> std::optional<StoredRun> {
    SqlQuery query(*sql_, "SELECT name, status, config_toml FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep()) return std::nullopt;
    return StoredRun{query.getColumn(0).getString(), query.getColumn(1).getString(), query.getColumn(2).getString()};
  });
}

std::vector<RunSummary> ResultsStore::list_runs(const RunFilter& filter) const {
  return guarded(path_, "list runs", [&] {
    std::string sql = R"(SELECT s.id, s.name, s.stage, s.group_id, s.status, s.started_at, s.best_val_accuracy,
        s.best_val_loss, s.test_accuracy, COALESCE(s.epochs, 0), s.seed,
        (SELECT group_concat(key || '=' || value, ' ') FROM run_params p WHERE p.run_id = s.id AND p.key IN
          ('optimizer.type', 'optimizer.lr', 'backbone.lr_mult', 'backbone.weights', 'optimizer.weight_decay')),
        s.primary_metric, s.primary_direction, s.best_val_primary, s.test_primary)";
    if (filter.columns) sql += filter.columns->select.sql;
    sql += " FROM run_summary s WHERE 1 = 1";
    if (filter.id) sql += " AND s.id = :id";
    if (filter.name) sql += " AND s.name = :name";
    if (filter.group_id) sql += " AND s.group_id = :group";
    if (filter.status) sql += " AND s.status = :status";
    if (filter.where) sql += " AND (" + filter.where->sql + ")";
    sql += " ORDER BY " + (filter.order_by ? filter.order_by->sql + ", s.id DESC" : std::string("s.id DESC"));
    sql += " LIMIT :limit OFFSET :offset";
    SqlQuery query(*sql_, sql);
    const std::optional<SqlFragment> columns =
        filter.columns ? std::optional<SqlFragment>(filter.columns->select) : std::nullopt;
    for (const auto& [fragment, prefix] :
         {std::pair{&filter.where, ":w"}, std::pair{&filter.order_by, ":o"}, std::pair{&columns, ":c"}}) {
      if (!*fragment) continue;
      for (std::size_t i = 0; i < (*fragment)->values.size(); ++i) {
        const auto& value = (*fragment)->values[i];
        if (const auto* number = std::get_if<double>(&value))
          query.bind(prefix + std::to_string(i), *number);
        else
          query.bind(prefix + std::to_string(i), std::get<std::string>(value));
      }
    }
    if (filter.id) query.bind(":id", *filter.id);
    if (filter.name) query.bind(":name", *filter.name);
    if (filter.group_id) query.bind(":group", *filter.group_id);
    if (filter.status) query.bind(":status", *filter.status);
    query.bind(":limit", static_cast<std::int64_t>(filter.limit));
    query.bind(":offset", static_cast<std::int64_t>(filter.offset));
    std::vector<RunSummary> runs;
    while (query.executeStep()) {
      RunSummary run;
      run.id = query.getColumn(0).getInt64();
      run.name = query.getColumn(1).getString();
      run.stage = query.getColumn(2).getString();
      run.group_id = query.getColumn(3).getString();
      run.status = query.getColumn(4).getString();
      run.started_at = query.getColumn(5).getString();
      run.best_val_accuracy = optional_real(query, 6);
      run.best_val_loss = optional_real(query, 7);
      run.test_accuracy = optional_real(query, 8);
      run.epochs = query.getColumn(9).getInt64();
      run.seed = query.getColumn(10).getInt64();
      run.key_params = query.getColumn(11).getString();
      run.primary_metric = query.getColumn(12).getString();
      run.primary_direction = query.getColumn(13).getString();
      run.best_val_primary = optional_real(query, 14);
      run.test_primary = optional_real(query, 15);
      const int chosen = filter.columns ? static_cast<int>(filter.columns->names.size()) : 0;
      for (int i = 16; i < 16 + chosen; ++i) {
        const auto column = query.getColumn(i);
        if (column.isNull())
          run.columns.emplace_back(std::monostate{});
        else if (column.isNumber())
          run.columns.emplace_back(column.getDouble());
        else if (const auto number = filter.columns->parameters[static_cast<std::size_t>(i - 16)]
                                         ? whole_number(column.getString())
                                         : std::nullopt)
          run.columns.emplace_back(*number);
        else
          run.columns.emplace_back(column.getString());
      }
      runs.push_back(run);
    }
    return runs;
  });
}

std::optional<std::string> ResultsStore::status_of(std::int64_t run_id) const {
  return guarded(path_, "read a run", [&]() -> std::optional<std::string> {
    SqlQuery query(*sql_, "SELECT status FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep()) return std::nullopt;
    return query.getColumn(0).getString();
  });
}

namespace {

// How many run ids one statement of an `_of_runs` read lists: few enough for any SQLite build's limit on
// placeholders (999 before 3.32), many enough that 10,000 runs take a handful of round trips.
constexpr std::size_t kRunsPerStatement = 900;

// The one run's entry of an `_of_runs` read of one run, or nothing (an empty list).
template <class Rows>
Rows only_run(std::map<std::int64_t, Rows> runs) {
  return runs.empty() ? Rows{} : std::move(runs.begin()->second);
}

// "(?, ?, ?)", one placeholder per id.
std::string id_list(std::size_t count) {
  std::string list = "(";
  for (std::size_t i = 0; i < count; ++i) list += i == 0 ? "?" : ", ?";
  return list + ")";
}

}  // namespace

template <class Read>
void ResultsStore::for_runs_in_pieces(const std::vector<std::int64_t>& run_ids,
                                      const std::function<std::string(const std::string&)>& sql_for,
                                      const std::vector<std::string>& after, Read&& read) const {
  for (std::size_t first = 0; first < run_ids.size(); first += kRunsPerStatement) {
    const std::size_t count = std::min(kRunsPerStatement, run_ids.size() - first);
    auto query = prepared(sql_for(id_list(count)));
    for (std::size_t i = 0; i < count; ++i) query->bind(static_cast<int>(i) + 1, run_ids[first + i]);
    for (std::size_t i = 0; i < after.size(); ++i) query->bind(static_cast<int>(count + i) + 1, after[i]);
    while (query->executeStep()) read(*query);
  }
}

std::vector<EpochRow> ResultsStore::epochs_of(std::int64_t run_id) const { return only_run(epochs_of_runs({run_id})); }

std::map<std::int64_t, std::vector<EpochRow>> ResultsStore::epochs_of_runs(
    const std::vector<std::int64_t>& run_ids) const {
  return guarded(path_, "read the runs' epochs", [&] {
    std::map<std::int64_t, std::vector<EpochRow>> runs;
    const auto sql = [](const std::string& ids) {
      return "SELECT run_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, train_primary, "
             "val_primary FROM epoch_metrics WHERE run_id IN " +
             ids + " ORDER BY run_id, epoch";
    };
    for_runs_in_pieces(run_ids, sql, {}, [&](const SqlQuery& query) {
      runs[query.getColumn(0).getInt64()].push_back(
          {query.getColumn(1).getInt64(), real_or_nan(query, 2), real_or_nan(query, 3), real_or_nan(query, 4),
           real_or_nan(query, 5), real_or_nan(query, 6), real_or_nan(query, 7), real_or_nan(query, 8)});
    });
    return runs;
  });
}

std::vector<RunOutcome> ResultsStore::outcomes_by(const std::string& key, const std::optional<std::string>& name,
                                                  const std::optional<std::string>& stage,
                                                  const std::optional<std::string>& group) const {
  return guarded(path_, "compare runs", [&] {
    // A parameter's value as text (1e-3 and 0.001 are the same REAL, so they group together); for lr/<group>, the
    // highest rate the group was given (its base rate: warm-up and decay only lower it).
    const bool group_rate = key.rfind("lr/", 0) == 0;
    // The per-epoch rows (one per group and epoch, ftrun 0.1 after 2026-11-30) are read first: a run's step rows
    // are a hundred times as many, and runs recorded before hold only those.
    // Runs without the rate are left out below, not by a WHERE on it: PostgreSQL would work it out twice per run.
    std::string sql = group_rate ? R"(SELECT s.id, s.stage, s.status, COALESCE(
          (SELECT MAX(value) FROM metrics m WHERE m.run_id = s.id AND m.scope = 'epoch' AND m.name = :key),
          (SELECT MAX(value) FROM metrics m WHERE m.run_id = s.id AND m.scope = 'step' AND m.name = :key))
          AS value, s.best_val_primary, s.final_val_primary, s.name, s.group_id, s.primary_metric,
          s.primary_direction FROM run_summary s WHERE 1 = 1)"
                                 : R"(SELECT s.id, s.stage, s.status, p.value, s.best_val_primary,
        s.final_val_primary, s.name, s.group_id, s.primary_metric, s.primary_direction FROM run_summary s
        JOIN run_params p ON p.run_id = s.id AND p.key = :key WHERE 1 = 1)";
    if (name) sql += " AND s.name = :name";
    if (stage) sql += " AND s.stage = :stage";
    if (group) sql += " AND s.group_id = :group";
    sql += " ORDER BY s.id";
    SqlQuery query(*sql_, sql);
    query.bind(":key", key);
    if (name) query.bind(":name", *name);
    if (stage) query.bind(":stage", *stage);
    if (group) query.bind(":group", *group);
    std::vector<RunOutcome> runs;
    while (query.executeStep()) {
      if (group_rate && query.getColumn(3).isNull()) continue;
      runs.push_back({query.getColumn(0).getInt64(), query.getColumn(1).getString(), query.getColumn(2).getString(),
                      value_text(query.getColumn(3)), optional_real(query, 4), optional_real(query, 5),
                      query.getColumn(8).getString(), query.getColumn(9).getString() != "min"});
    }
    return runs;
  });
}

std::map<std::int64_t, EpochFacts> ResultsStore::epoch_facts_of_runs(const std::vector<std::int64_t>& run_ids) const {
  return guarded(path_, "read the runs' best epochs", [&] {
    std::map<std::int64_t, EpochFacts> runs;
    const auto sql = [](const std::string& ids) {
      return "SELECT run_id, best_epoch, epochs, gap_at_best, gap_at_last FROM run_results WHERE run_id IN " + ids;
    };
    for_runs_in_pieces(run_ids, sql, {}, [&](const SqlQuery& query) {
      EpochFacts& facts = runs[query.getColumn(0).getInt64()];
      if (!query.getColumn(1).isNull()) facts.best_epoch = query.getColumn(1).getInt64();
      facts.last_epoch = query.getColumn(2).isNull() ? 0 : query.getColumn(2).getInt64();
      facts.gap_at_best = real_or_nan(query, 3);
      facts.gap_at_last = real_or_nan(query, 4);
    });
    return runs;
  });
}

std::vector<ValidationRise> ResultsStore::validation_rises_of(std::int64_t run_id) const {
  return only_run(validation_rises_of_runs({run_id}));
}

std::map<std::int64_t, std::vector<ValidationRise>> ResultsStore::validation_rises_of_runs(
    const std::vector<std::int64_t>& run_ids) const {
  return guarded(path_, "read the runs' validation rises", [&] {
    std::map<std::int64_t, std::vector<ValidationRise>> runs;
    const auto sql = [](const std::string& ids) {
      return "SELECT run_id, first_epoch, last_epoch, evaluations, best_val_loss, worst_val_loss, "
             "train_loss_before, lowest_train_loss, recovered FROM validation_rises WHERE run_id IN " +
             ids + " ORDER BY run_id, first_epoch";
    };
    for_runs_in_pieces(run_ids, sql, {}, [&](const SqlQuery& query) {
      runs[query.getColumn(0).getInt64()].push_back({query.getColumn(1).getInt64(), query.getColumn(2).getInt64(),
                                                     query.getColumn(3).getInt64(), real_or_nan(query, 4),
                                                     real_or_nan(query, 5), real_or_nan(query, 6),
                                                     real_or_nan(query, 7), query.getColumn(8).getInt() != 0});
    });
    return runs;
  });
}

std::vector<std::pair<std::string, std::string>> ResultsStore::params_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's parameters", [&] {
    SqlQuery query(*sql_, "SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::vector<std::pair<std::string, std::string>> params;
    while (query.executeStep()) params.emplace_back(query.getColumn(0).getString(), value_text(query.getColumn(1)));
    return params;
  });
}

std::set<std::string> ResultsStore::default_params_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's parameters", [&] {
    SqlQuery query(*sql_, "SELECT key FROM run_params WHERE run_id = ? AND is_default = 1");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::set<std::string> keys;
    while (query.executeStep()) keys.insert(query.getColumn(0).getString());
    return keys;
  });
}

std::vector<PluginUse> ResultsStore::plugins_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's plugins", [&] {
    SqlQuery query(*sql_,
                   "SELECT kind, component, library, plugin_name, plugin_version FROM run_plugins WHERE "
                   "run_id = ? ORDER BY kind, component");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::vector<PluginUse> plugins;
    while (query.executeStep()) {
      plugins.push_back({query.getColumn(0).getString(), query.getColumn(1).getString(), query.getColumn(2).getString(),
                         query.getColumn(3).getString(), query.getColumn(4).getString()});
    }
    return plugins;
  });
}

std::vector<MetricRow> ResultsStore::metrics_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's metrics", [&] {
    SqlQuery query(*sql_, "SELECT scope, epoch, step, name, value FROM metrics WHERE run_id = ? ORDER BY rowid");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::vector<MetricRow> rows;
    while (query.executeStep()) {
      rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getInt64(), query.getColumn(2).getInt64(),
                      query.getColumn(3).getString(), real_or_nan(query, 4)});
    }
    return rows;
  });
}

std::optional<std::string> ResultsStore::param_of(std::int64_t run_id, const std::string& key) const {
  auto runs = param_of_runs({run_id}, key);
  if (runs.empty()) return std::nullopt;
  return std::move(runs.begin()->second);
}

std::map<std::int64_t, std::string> ResultsStore::param_of_runs(const std::vector<std::int64_t>& run_ids,
                                                                const std::string& key) const {
  return guarded(path_, "read the runs' parameter " + key, [&] {
    std::map<std::int64_t, std::string> runs;
    const auto sql = [](const std::string& ids) {
      return "SELECT run_id, value FROM run_params WHERE run_id IN " + ids + " AND key = ? AND value IS NOT NULL";
    };
    for_runs_in_pieces(run_ids, sql, {key}, [&](const SqlQuery& query) {
      runs[query.getColumn(0).getInt64()] = value_text(query.getColumn(1));
    });
    return runs;
  });
}

std::optional<std::string> ResultsStore::checkpoint_of(std::int64_t run_id) const {
  const auto recorded = guarded(path_, "read a run", [&]() -> std::optional<std::string> {
    SqlQuery query(*sql_, "SELECT checkpoint_path FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep() || query.getColumn(0).isNull()) return std::nullopt;
    return query.getColumn(0).getString();
  });
  if (!recorded) return std::nullopt;
  std::error_code error;
  const fs::path path(*recorded);
  // Only this store's own folder is looked in: a relative path or a file elsewhere could be another store's.
  const std::string folder = "run-" + std::to_string(run_id);
  const fs::path own = fs::path(checkpoint_dir()) / folder / path.filename();
  if (path.is_absolute() && fs::is_regular_file(path, error)) return path.string();
  if (fs::is_regular_file(own, error)) return own.string();  // the store and its folder were moved together
  throw DataError(
      "run " + std::to_string(run_id) + " in " + path_ + ": its checkpoint " + *recorded +
      " is missing (expected it there or at " + own.string() +
      "); was the checkpoint folder moved or deleted, or is it not mounted on this host? A folder holding " + folder +
      "/ can be given with --checkpoint-dir");
}

}  // namespace ft
