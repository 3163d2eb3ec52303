#!/usr/bin/env bash
# The GPU check, in one go, on the GPU machine (Ubuntu, PyTorch 2.11 with CUDA, no network). Prepare on the
# development machine first:   ../shared/gpu/fetch-deps.sh .gpu-deps libcli11-dev libstb-dev libstb0 libturbojpeg0-dev
#                               libturbojpeg0 libspng-dev libspng0 libgloo-dev   (image_folder decodes with
#                               libjpeg-turbo and libspng; data-parallel training needs Gloo's headers)
# then run this there from the repository root, with .gpu-deps carried along. Results go to $OUT (or ./gpu-results).
set -euo pipefail
out=${OUT:-gpu-results}
mkdir -p "$out"
source .gpu-deps/setup.sh
cmake -S . -B build-gpu -G Ninja -DCMAKE_PREFIX_PATH="$FT_GPU_PREFIX_PATH" -DFTRUN_PYTHON="$(command -v python3)" \
  2>&1 | tee "$out/configure.log"
cmake --build build-gpu --target all ftrun_detection_bench 2>&1 | tail -20 | tee "$out/build.log"
(cd build-gpu && ctest --output-on-failure -j 8) 2>&1 | tail -40 | tee "$out/ctest.log" || true
FTRUN_BUILD=build-gpu python3 bench/compare.py --preset gpu 2>&1 | tee "$out/bench-gpu.txt"
# The step captured in a CUDA graph against the same step eager (ResNet-50 32x32 bf16 batch 256).
FTRUN_BUILD=build-gpu python3 bench/compare.py --preset gpu --set train.cuda_graph=true 2>&1 |
  tee "$out/bench-gpu-graph.txt" || true
# One process under torchrun: NCCL's process group, broadcast and bucketed all-reduce on the GPU.
torchrun --nproc-per-node 1 --no-python build-gpu/ftrun experiments/quickstart.toml --store "$out/nccl.db" \
  --set experiment.device=cuda 2>&1 | tail -20 | tee "$out/nccl.txt" || true
# FCOS's detector part against torchvision's on CUDA: the training step, the forward, the post-processing (ftrun's
# NMS runs on the host, torchvision's on the GPU) and, where pycocotools is installed, COCO mAP.
python3 bench/detection_speed.py build-gpu/ftrun_detection_bench --device cuda --images 16 --iterations 10 2>&1 |
  tee "$out/bench-detection-gpu.txt" || true
nvidia-smi --query-gpu=name,driver_version --format=csv | tee -a "$out/bench-gpu.txt"
