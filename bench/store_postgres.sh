#!/usr/bin/env bash
# The PostgreSQL store against the SQLite one (issue 23): what recording costs a training step on each, how fast
# workers claim trials on the server, then a store of RUNS runs x 100 epochs x STEPS steps made as SQLite, merged
# into PostgreSQL with `ftrun merge`, and the time of each question on both, best of three. Starts a throw-away
# PostgreSQL 15 of its own (Debian's, as the tests do; as `nobody` when run as root) with its default durability
# (fsync on). Numbers go to docs/performance.md.
#   bench/store_postgres.sh [RUNS [STEPS]]   (default 1000 runs, 10 steps per epoch)
# Beyond 1,000 runs (issue 23's 10,000), the first 1,000 are generated and merged, and the rest are copies of them
# under new ids (their groups and processes renumbered too), made inside each database: generating and merging
# 10,000 runs would take ~25 minutes, copying them takes ~5.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
steps=${2:-10}
base=$(( runs < 1000 ? runs : 1000 ))
copies=$(( (runs + base - 1) / base ))
ninja -C build ftrun ftrun_store_bench > /dev/null

bin=/usr/lib/postgresql/15/bin
dir=$(mktemp -d)
as=()
if [ "$(id -u)" = 0 ]; then
  chown nobody "$dir"
  as=(runuser -u nobody --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "bench secret" > "$dir/password"
"${as[@]}" "$bin/initdb" -D "$dir/data" -U ftrun --pwfile="$dir/password" --auth-local=trust \
  --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 > "$dir/initdb.log"
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start > /dev/null
trap '"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop > /dev/null; rm -rf "$dir"' EXIT
export PGPASSWORD="bench secret"
url="postgresql://ftrun@127.0.0.1:$port/postgres"

echo "SQLite:"
build/ftrun_store_bench record "$dir/record.db" 20 100
echo "PostgreSQL 15 (same machine, TCP on 127.0.0.1):"
build/ftrun_store_bench record "$url" 20 100
echo "claiming trials (PostgreSQL), workers at their busiest:"
for workers in 8 32 64; do build/ftrun_store_bench claim "$url" "$workers" $((workers < 64 ? 400 : 1000)); done

# The questions' runs go to a database of their own (the recording above left its runs in `postgres`).
"$bin/psql" -q "$url" -c "CREATE DATABASE questions"
url="postgresql://ftrun@127.0.0.1:$port/questions"
sqlite="$dir/questions.db"
build/ftrun_store_bench generate "$sqlite" "$base" 100 "$steps" > /dev/null
start=$(date +%s.%N)
build/ftrun merge "$url" "$sqlite"
printf 'merge took %.0f s\n' "$(echo "$start $(date +%s.%N)" | awk '{ print $2 - $1 }')"

# Copies 2..COPIES of the first BASE runs, as SQL both dialects read. ($1: SQL run first, e.g. to turn triggers off.)
copy_runs_sql() {
  local k="WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < $((copies - 1)))"
  cat << SQL
$1
INSERT INTO runs (id, name, stage, group_id, status, started_at, ended_at, experiment_file, config_toml, seed, device,
                  threads, ftrun_version, torch_version, host, pid, task, primary_metric, primary_direction)
  $k SELECT id + $base * n, name, stage, group_id || '-' || n, status, started_at, ended_at, experiment_file,
            config_toml, seed, device, threads, ftrun_version, torch_version, host, pid + $base * n, task,
            primary_metric, primary_direction FROM runs, k WHERE id <= $base;
INSERT INTO run_params (run_id, key, value, is_default)
  $k SELECT run_id + $base * n, key, value, is_default FROM run_params, k WHERE run_id <= $base;
INSERT INTO metrics (run_id, scope, epoch, step, name, value)
  $k SELECT run_id + $base * n, scope, epoch, step, name, value FROM k, metrics WHERE run_id <= $base;
SQL
}
if [ "$copies" -gt 1 ]; then
  start=$(date +%s.%N)
  # SQLite's triggers fill epoch_metrics and run_results from the copied rows; PostgreSQL's are turned off for the
  # copy (it is ~10x faster), so its epoch_metrics and run_results rows are copied as well.
  { copy_runs_sql "PRAGMA synchronous = OFF; BEGIN;"; echo "COMMIT;"; } | sqlite3 "$sqlite"
  {
    copy_runs_sql "SET session_replication_role = replica; BEGIN;"
    cat << SQL
INSERT INTO epoch_metrics SELECT e.run_id + $base * k.n, e.epoch, e.train_loss, e.train_accuracy, e.val_loss,
  e.val_accuracy, e.lr, e.images_per_second, e.seconds, e.train_primary, e.val_primary
  FROM epoch_metrics e, generate_series(1, $((copies - 1))) AS k(n) WHERE e.run_id <= $base;
INSERT INTO run_results SELECT x.run_id + $base * k.n, x.epochs, x.best_val_accuracy, x.best_val_loss,
  x.final_val_accuracy, x.best_val_primary, x.final_val_primary
  FROM run_results x, generate_series(1, $((copies - 1))) AS k(n) WHERE x.run_id <= $base;
COMMIT;
SELECT setval(pg_get_serial_sequence('runs', 'id'), $((base * copies)));
VACUUM ANALYZE;
SQL
  } | "$bin/psql" -q -v ON_ERROR_STOP=1 "$url" > /dev/null
  sqlite3 "$sqlite" ANALYZE
  printf 'copied the %d runs %d times in each store in %.0f s\n' "$base" "$((copies - 1))" \
    "$(echo "$start $(date +%s.%N)" | awk '{ print $2 - $1 }')"
fi

source bench/best_of_three.sh

echo "questions over $((base * copies)) runs x 100 epochs x $steps steps ($(sqlite3 "$sqlite" 'SELECT COUNT(*) FROM metrics') metric rows): SQLite, PostgreSQL"
question() {
  printf '  %s s  %s s  ftrun %s\n' "$(best_of_three_seconds "$sqlite" "$@")" "$(best_of_three_seconds "$url" "$@")" "$*"
}
question runs --limit 1000
question runs --where "optimizer.lr >= 1e-3 and val_loss.min < 1.5" --order-by "val_accuracy.max desc" --limit 1000
question compare optimizer.lr
question compare lr/backbone
question overfit  # the newest 1,000
question overfit --limit "$((base * copies))"
question overfit --where "val_loss.argmin < 50" --patience 5
question show 500
