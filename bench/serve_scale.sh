#!/usr/bin/env bash
# ftrun serve over a store of 1,000 runs (issue 22's target: the runs page under 300 ms): the time of each answer
# the pages ask for, through HTTP on the loopback address, best of five. Needs a build (scripts/setup); numbers go
# to docs/performance.md.
#   bench/serve_scale.sh [STORE]   (default /tmp/ftrun-serve-scale.db: 1,000 runs x 50 epochs x 20 steps, made once)
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-/tmp/ftrun-serve-scale.db}
ninja -C build ftrun ftrun_store_bench > /dev/null
[ -f "$store" ] || build/ftrun_store_bench generate "$store" 1000 50 20
log=$(mktemp)
build/ftrun serve --port 0 --store "$store" > "$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "http://" "$log" && break; sleep 0.1; done
base=$(grep -o "http://127.0.0.1:[0-9]*" "$log")

best_of_five() {
  local best=1000
  for _ in 1 2 3 4 5; do
    local t
    t=$(curl -s -o /dev/null -w "%{time_total}" "$base$1")
    best=$(echo "$t $best" | awk '{ print ($1 < $2 ? $1 : $2) }')
  done
  printf '  %6.1f ms  GET %s\n' "$(echo "$best" | awk '{ print $1 * 1000 }')" "$1"
}

echo "ftrun serve over $(sqlite3 "$store" 'SELECT COUNT(*) FROM runs') runs, $(sqlite3 "$store" 'SELECT COUNT(*) FROM metrics') metric rows:"
best_of_five "/"
best_of_five "/static/app.js"
best_of_five "/api/runs?limit=50"
best_of_five "/api/runs?limit=50&offset=950"
best_of_five "/api/runs?where=optimizer.lr%20%3E%3D%201e-3%20and%20val_loss.min%20%3C%201.5&order_by=val_accuracy.max%20desc&limit=50"
best_of_five "/api/runs/500"
best_of_five "/api/runs/500/epochs"
best_of_five "/api/runs/500/curves.svg"
