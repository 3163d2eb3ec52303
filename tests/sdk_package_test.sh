#!/usr/bin/env bash
# A third party's view: install ftrun, build sdk/example (an L1 regularizer) against the installed ftsdk package
# alone, and run the installed ftrun with that .so on real data. Checks the store names the third-party library.
# Usage: sdk_package_test.sh BUILD_DIR SOURCE_DIR CMAKE_PREFIX_PATH
set -euo pipefail
build=$1 source=$2 prefix_path=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/sdk/example" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix;$prefix_path" >/dev/null
cmake --build "$work/example" >/dev/null
test -f "$work/example/ft_l1.so"

cat > "$work/experiment.toml" <<TOML
[experiment]
name = "third_party"
device = "cpu"
plugins = ["$work/example/ft_l1.so"]
[backbone]
type = "convnet"
width = 4
[dataset]
type = "fashion_mnist"
classes = [0, 1]
samples_per_class = 20
validation_fraction = 0.02
[head]
type = "linear"
[optimizer]
type = "sgd"
lr = 0.05
[[regularization]]
type = "l1"
lambda = 0.001
[train]
epochs = 1
batch_size = 20
test = false
TOML
"$work/prefix/bin/ftrun" "$work/experiment.toml" --store "$work/ftrun.db"
library=$(sqlite3 "$work/ftrun.db" "SELECT library FROM run_plugins WHERE component = 'l1'")
status=$(sqlite3 "$work/ftrun.db" "SELECT status FROM runs")
echo "l1 from: $library; run status: $status"
[ "$library" = "$work/example/ft_l1.so" ] && [ "$status" = "completed" ]
