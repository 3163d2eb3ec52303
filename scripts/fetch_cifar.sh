#!/usr/bin/env bash
# Downloads and unpacks the binary CIFAR-10 or CIFAR-100 (needs internet access; about 170 MB each).
#   scripts/fetch_cifar.sh cifar10 [DIR]    → DIR/cifar-10-batches-bin   (DIR defaults to data)
#   scripts/fetch_cifar.sh cifar100 [DIR]   → DIR/cifar-100-binary
# The cifar10/cifar100 datasets check every file's exact size when they read it.
set -euo pipefail
which=${1:?usage: fetch_cifar.sh cifar10|cifar100 [DIR]}
dir=${2:-data}
case "$which" in
  cifar10) url=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz ;;
  cifar100) url=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz ;;
  *) echo "fetch_cifar.sh: expected cifar10 or cifar100, got $which" >&2; exit 2 ;;
esac
mkdir -p "$dir"
archive="$dir/$(basename "$url")"
if [ ! -f "$archive" ]; then
  curl -fL --retry 3 -o "$archive.part" "$url"
  mv "$archive.part" "$archive"
fi
tar -xzf "$archive" -C "$dir"
echo "unpacked into $dir; point [dataset] root there"
