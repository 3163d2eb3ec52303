#!/usr/bin/env bash
# A third party's view: install ftrun, build the installed copy of sdk/example (a regularization, an optimizer
# with state, a head, a sweep's sampler) against the installed ftsdk package alone, and run the installed ftrun
# with those .so files on real data, then a sweep whose trials the sampler proposes. Checks the store names the
# third-party libraries and the sampler, and that ftrun finds nothing missing in them.
# Usage: sdk_package_test.sh BUILD_DIR SOURCE_DIR CMAKE_PREFIX_PATH
set -euo pipefail
build=$1 source=$2 prefix_path=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$work/prefix/share/ftrun/sdk-example" -B "$work/example" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix;$prefix_path" >/dev/null
cmake --build "$work/example" >/dev/null
test -f "$work/example/ft_l1.so" && test -f "$work/example/ft_lion.so" && test -f "$work/example/ft_cosine_head.so"
test -f "$work/example/ft_halton.so"
# Optimised although the example sets no build type (ft_add_plugin defaults to -O2).
grep -q -- "-O2" "$work/example/build.ninja"

cat > "$work/experiment.toml" <<TOML
[experiment]
name = "third_party"
device = "cpu"
plugins = ["$work/example/ft_l1.so", "$work/example/ft_lion.so", "$work/example/ft_cosine_head.so"]
[backbone]
type = "convnet"
width = 4
[dataset]
type = "fashion_mnist"
classes = [0, 1]
samples_per_class = 20
validation_fraction = 0.02
[head]
type = "cosine"
[optimizer]
type = "lion"
lr = 0.0005
[[regularization]]
type = "l1"
lambda = 0.001
[train]
epochs = 1
batch_size = 20
test = false
TOML
"$work/prefix/bin/ftrun" "$work/experiment.toml" --store "$work/ftrun.db" 2>&1 | tee "$work/output.txt"
# Lion saves its state: no warning that resume would be inexact, no refusal of its learning-rate accessors.
! grep -q "will not continue" "$work/output.txt"
libraries=$(sqlite3 "$work/ftrun.db" "SELECT group_concat(library, ' ') FROM run_plugins WHERE component IN
  ('l1', 'lion', 'cosine') ORDER BY component")
status=$(sqlite3 "$work/ftrun.db" "SELECT status FROM runs")
echo "third-party libraries: $libraries; run status: $status"
[ "$status" = "completed" ]
for name in ft_l1 ft_lion ft_cosine_head; do [[ "$libraries" == *"$work/example/$name.so"* ]]; done

# The sampler: three trials of a sweep proposed by halton, each recorded with it; the learning rate of trial n is
# the Halton point n + 1 in base 2 (1/2, 1/4, 3/4) on the log scale from 1e-4 to 1e-2.
sed -e "s|^plugins = \[|plugins = [\"$work/example/ft_halton.so\", |" "$work/experiment.toml" > "$work/sweep.toml"
cat >> "$work/sweep.toml" <<TOML
[sweep]
method = "halton"
trials = 3
metric = "train_loss"
[sweep.sampler]
skip = 0
[sweep.params]
"optimizer.lr" = { log_uniform = [1e-4, 1e-2] }
"regularization.l1.lambda" = [0.0, 0.001]
TOML
"$work/prefix/bin/ftrun" sweep "$work/sweep.toml" --store "$work/sweep.db" 2>&1 | tee "$work/sweep.txt"
grep -q "halton" "$work/sweep.txt"
trials=$(sqlite3 "$work/sweep.db" "SELECT group_concat(state || ' ' || sampler || ' ' || replace(rtrim(params, char(10)), char(10), ' '), '; ')
  FROM (SELECT * FROM trials ORDER BY number)")
echo "halton's trials: $trials"
[ "$trials" = "completed halton optimizer.lr = 0.001 regularization.l1.lambda = 0.0; completed halton optimizer.lr = 0.000316228 regularization.l1.lambda = 0.001; completed halton optimizer.lr = 0.00316228 regularization.l1.lambda = 0.0" ]
