#!/usr/bin/env python3
"""Linear probing: ftrun (whose feature cache runs the frozen backbone once per image) against a careful PyTorch loop
(backbone frozen in eval mode under no_grad, the head trained each step), on the same work, in one go.

    .venv/bin/python bench/linear_probe.py [--threads N]

ResNet-18 (torchvision's architecture) wholly frozen, a 10-class linear head, 3x32x32, batch 64, Adam (lr 1e-3), fp32,
1,920 images, 10 epochs, on the CPU. The time is the whole run (ftrun: its epochs' seconds plus the cache; read from
the log and the store), the target 5x.
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


def ftrun_seconds(data, store, threads):
    """Wall time of ftrun's training: the feature cache plus every epoch (process start and data loading aside)."""
    result = subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"),
                             os.path.join(ROOT, "bench", "linear_probe_cpu.toml"),
                             "--set", f"dataset.root={data}", "--set", f"experiment.threads={threads}",
                             "--store", store], check=True, capture_output=True, text=True)
    cache = re.search(r"feature cache: .* ([0-9.]+) s\)", result.stderr + result.stdout)
    if not cache:
        sys.exit("ftrun did not use its feature cache:\n" + result.stderr)
    epochs = sqlite3.connect(store).execute("SELECT SUM(seconds) FROM epoch_metrics").fetchone()[0]
    return float(cache.group(1)) + epochs


def pytorch_seconds(threads):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    images = torch.randint(0, 256, (IMAGES, 3, 32, 32), dtype=torch.uint8)
    labels = torch.arange(IMAGES) % 10
    backbone = torchvision.models.resnet18(num_classes=10)
    head = backbone.fc
    backbone.fc = torch.nn.Identity()
    backbone.eval().requires_grad_(False)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(IMAGES)
        for first in range(0, IMAGES, BATCH):
            index = order[first:first + BATCH]
            with torch.no_grad():
                features = backbone((images[index].float() - MEAN) / STD)
            loss = torch.nn.functional.cross_entropy(head(features), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        write_cifar10(os.path.join(work, "cifar"))
        ftrun = ftrun_seconds(os.path.join(work, "cifar"), os.path.join(work, "bench.db"), args.threads)
    torch_s = pytorch_seconds(args.threads)
    print(f"linear probe: resnet18 frozen, 3x32x32, batch {BATCH}, Adam, fp32, cpu, {IMAGES} images x {EPOCHS} epochs, "
          f"{args.threads} threads, torch {torch.__version__}")
    print(f"  ftrun    {ftrun:8.1f} s  ({IMAGES * EPOCHS / ftrun:8.0f} images/s)")
    print(f"  PyTorch  {torch_s:8.1f} s  ({IMAGES * EPOCHS / torch_s:8.0f} images/s)")
    print(f"  ratio    {torch_s / ftrun:8.2f}x  (ftrun faster by; target >= 5)")


if __name__ == "__main__":
    sys.exit(main())
