#!/usr/bin/env python3
"""Frozen backbones: ftrun (whose feature cache runs the frozen part once per image) against a careful PyTorch loop
(the frozen part in eval mode under no_grad, the rest trained each step), on the same work, in one go.

    .venv/bin/python bench/feature_cache.py --case linear_probe [--threads N]   # whole backbone frozen: target 5x
    .venv/bin/python bench/feature_cache.py --case layer3 [--threads N]         # up to layer3 frozen: target 2x

ResNet-18 (torchvision's architecture), a 10-class linear head, 3x32x32, batch 64, Adam (lr 1e-3), fp32, 1,920
images, 10 epochs, on the CPU. The time is the whole training (ftrun: the cache plus every epoch's seconds, read from
its log and its store; PyTorch: its loop), without process start and data loading.
"""
import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import MEAN, ROOT, STD, write_cifar10  # noqa: E402

IMAGES, BATCH, EPOCHS = 1920, 64, 10
FROZEN = {"linear_probe": '["*"]', "layer3": '["conv1", "bn1", "layer1", "layer2", "layer3"]'}


def ftrun_seconds(data, store, threads, case):
    """Wall time of ftrun's training: the feature cache plus every epoch (process start and data loading aside)."""
    result = subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"),
                             os.path.join(ROOT, "bench", "feature_cache_cpu.toml"),
                             "--set", f"dataset.root={data}", "--set", f"experiment.threads={threads}",
                             "--set", f"backbone.freeze={FROZEN[case]}",
                             "--store", store], check=True, capture_output=True, text=True)
    cache = re.search(r"feature cache: .* ([0-9.]+) s\)", result.stderr + result.stdout)
    if not cache:
        sys.exit("ftrun did not use its feature cache:\n" + result.stderr)
    epochs = sqlite3.connect(store).execute("SELECT SUM(seconds) FROM epoch_metrics").fetchone()[0]
    return float(cache.group(1)) + epochs


def pytorch_seconds(threads, case):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    images = torch.randint(0, 256, (IMAGES, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(IMAGES) % 10
    net = torchvision.models.resnet18(num_classes=10)
    if case == "linear_probe":
        frozen = torch.nn.Sequential(*list(net.children())[:-1], torch.nn.Flatten())
        trained = net.fc
    else:
        frozen = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
        trained = torch.nn.Sequential(net.layer4, net.avgpool, torch.nn.Flatten(), net.fc)
    frozen.eval().requires_grad_(False)
    trained.train()
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(IMAGES)
        for first in range(0, IMAGES, BATCH):
            index = order[first:first + BATCH]
            with torch.no_grad():
                features = frozen((images[index].float() - MEAN) / STD)
            loss = torch.nn.functional.cross_entropy(trained(features), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(FROZEN), default="linear_probe")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        write_cifar10(os.path.join(work, "cifar"))
        ftrun = ftrun_seconds(os.path.join(work, "cifar"), os.path.join(work, "bench.db"), args.threads, args.case)
    torch_s = pytorch_seconds(args.threads, args.case)
    print(f"{args.case}: resnet18 frozen {FROZEN[args.case]}, 3x32x32, batch {BATCH}, Adam, fp32, cpu, "
          f"{IMAGES} images x {EPOCHS} epochs, {args.threads} threads, torch {torch.__version__}")
    print(f"  ftrun    {ftrun:8.1f} s  ({IMAGES * EPOCHS / ftrun:8.0f} images/s)")
    print(f"  PyTorch  {torch_s:8.1f} s  ({IMAGES * EPOCHS / torch_s:8.0f} images/s)")
    target = 5 if args.case == "linear_probe" else 2
    print(f"  ratio    {torch_s / ftrun:8.2f}x  (ftrun faster by; target >= {target})")


if __name__ == "__main__":
    sys.exit(main())
