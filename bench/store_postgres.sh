#!/usr/bin/env bash
# The PostgreSQL store against the SQLite one (issue 23): what recording costs a training step on each, then a
# store of RUNS runs x 100 epochs x STEPS steps made as SQLite, merged into PostgreSQL with `ftrun merge`, and the
# time of each question on both, best of three. Starts a throw-away PostgreSQL 15 of its own (Debian's, as the tests
# do; as `nobody` when run as root) with its default durability (fsync on). Numbers go to docs/performance.md.
#   bench/store_postgres.sh [RUNS [STEPS]]   (default 1000 runs, 10 steps per epoch)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000}
steps=${2:-10}
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

sqlite="$dir/questions.db"
build/ftrun_store_bench generate "$sqlite" "$runs" 100 "$steps" > /dev/null
start=$(date +%s.%N)
build/ftrun merge "$url" "$sqlite"
printf 'merge took %.0f s\n' "$(echo "$start $(date +%s.%N)" | awk '{ print $2 - $1 }')"

source bench/best_of_three.sh

echo "questions over $runs runs x 100 epochs x $steps steps ($(sqlite3 "$sqlite" 'SELECT COUNT(*) FROM metrics') metric rows): SQLite, PostgreSQL"
question() {
  printf '  %s s  %s s  ftrun %s\n' "$(best_of_three_seconds "$sqlite" "$@")" "$(best_of_three_seconds "$url" "$@")" "$*"
}
question runs --limit 1000
question runs --where "optimizer.lr >= 1e-3 and val_loss.min < 1.5" --order-by "val_accuracy.max desc" --limit 1000
question compare optimizer.lr
question compare lr/backbone
question overfit
question overfit --where "val_loss.argmin < 50" --patience 5
question show 500
