#!/usr/bin/env bash
# CUDA end to end: a short bf16, channels-last run on the GPU. Without a visible GPU it exits 77, which ctest
# reports as "Skipped" (SKIP_RETURN_CODE), so the skip is visible in every test summary.
# Usage: cuda_test.sh FTRUN PYTHON
set -euo pipefail
ftrun=$1 python=$2
if ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "skipped: no CUDA device visible"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/cuda.toml" <<'TOML'
[experiment]
name = "cuda_smoke"
device = "cuda"
precision = "bf16"
channels_last = true
[backbone]
type = "convnet"
width = 8
[dataset]
type = "fashion_mnist"
classes = [0, 1]
samples_per_class = 500
augment = ["random_crop", "hflip"]
[head]
type = "linear"
[optimizer]
type = "adamw"
lr = 0.003
[train]
epochs = 2
batch_size = 100
TOML
"$ftrun" "$work/cuda.toml" --store "$work/ftrun.db"
"$ftrun" "$work/cuda.toml" --store "$work/ftrun.db" --set experiment.precision=fp16
test "$(sqlite3 "$work/ftrun.db" "SELECT COUNT(*) FROM runs WHERE status = 'completed' AND device LIKE 'cuda%'")" = 2
accuracy=$(sqlite3 "$work/ftrun.db" "SELECT MIN(best_val_accuracy) FROM run_summary")
echo "two CUDA runs completed; lowest best validation accuracy $accuracy"
awk -v a="$accuracy" 'BEGIN { exit !(a > 0.9) }'
