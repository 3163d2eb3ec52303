#!/usr/bin/env bash
# The store at scale (issue 8): what recording metrics costs a training step, then a store of 1,000 runs x 100
# epochs x 100 steps (30 million metric rows, 2.3 GB) and the time of each question asked of it through the
# ftrun binary, best of three. Needs a build (scripts/setup); numbers go to docs/performance.md.
#   bench/store_scale.sh [STORE]   (default /tmp/ftrun-scale.db; generated once, about 3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-/tmp/ftrun-scale.db}
ninja -C build ftrun ftrun_store_bench > /dev/null

build/ftrun_store_bench record "$(mktemp -d)/record.db" 20 100
if [ ! -f "$store" ]; then
  build/ftrun_store_bench generate "$store" 1000 100 100
fi

source bench/best_of_three.sh
best_of_three() { printf '  %s s  ftrun %s\n' "$(best_of_three_seconds "$store" "$@")" "$*"; }

echo "questions over $(sqlite3 "$store" 'SELECT COUNT(*) FROM runs') runs, $(sqlite3 "$store" 'SELECT COUNT(*) FROM metrics') metric rows:"
best_of_three runs --limit 1000
best_of_three runs --where "optimizer.lr >= 1e-3 and val_loss.min < 1.5" --order-by "val_accuracy.max desc" --limit 1000
best_of_three compare optimizer.lr
best_of_three compare lr/backbone
best_of_three overfit
best_of_three overfit --where "val_loss.argmin < 50" --patience 5
best_of_three show 500
best_of_three plot --compare optimizer.lr -o /tmp/ftrun-scale-lr.svg
best_of_three plot 1 2 3 4 5 -o /tmp/ftrun-scale-curves.svg
