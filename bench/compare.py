#!/usr/bin/env python3
"""ftrun against a plain PyTorch loop on the same work, in one go; prints both speeds and the ratio.

    .venv/bin/python bench/compare.py --preset cpu [--threads N]    # development machine
    python3 bench/compare.py --preset gpu                           # GPU machine (see docs/performance.md)

cpu: ResNet-18 (torchvision's architecture, a 10-class head), 3x32x32, batch 64, Adam (lr 1e-3), fp32,
     1,920 images an epoch, data in host memory as uint8.
gpu: ResNet-50, 3x32x32, batch 256, Adam, bf16 autocast, channels-last, 10,240 images an epoch, data held on
     the GPU as uint8.
Both: 3 epochs; the speed is the mean of the epochs after the first (warm-up). ftrun runs bench/<preset>.toml
through its binary and reports images/s per epoch in its store; the PyTorch loop does what a researcher's
script would: index, convert, normalise, forward, loss, backward, step, read the loss.
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1) * 255
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1) * 255
PRESETS = {
    "cpu": dict(toml="resnet18_cpu.toml", model="resnet18", images=1920, batch=64, device="cpu", precision="fp32",
                channels_last=False),
    "gpu": dict(toml="resnet50_gpu.toml", model="resnet50", images=10240, batch=256, device="cuda", precision="bf16",
                channels_last=True),
}
EPOCHS = 3


def write_cifar10(folder):
    """Random pixels in the official CIFAR-10 binary layout (labels i % 10)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        records = np.empty((10000, 3073), dtype=np.uint8)
        records[:, 0] = np.arange(10000) % 10
        records[:, 1:] = rng.integers(0, 256, size=(10000, 3072), dtype=np.uint8)
        records.tofile(os.path.join(folder, name))


def ftrun_speed(preset, data, store, threads, overrides):
    extra = [arg for override in overrides for arg in ("--set", override)]
    subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"),
                    os.path.join(ROOT, "bench", preset["toml"]),
                    "--set", f"dataset.root={data}", "--set", f"experiment.threads={threads}", "--store", store]
                   + extra, check=True, stdout=subprocess.DEVNULL)
    rows = sqlite3.connect(store).execute(
        "SELECT images_per_second FROM epoch_metrics WHERE epoch > 1 ORDER BY epoch").fetchall()
    return sum(r[0] for r in rows) / len(rows)


def pytorch_speed(preset, threads):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    device = torch.device(preset["device"])
    n, batch = preset["images"], preset["batch"]
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, device=device)
    labels = (torch.arange(n) % 10).to(device)
    mean, std = MEAN.to(device), STD.to(device)
    model = torchvision.models.get_model(preset["model"], num_classes=10).to(device)
    memory_format = torch.channels_last if preset["channels_last"] else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    autocast = preset["precision"] == "bf16"
    model.train()
    speeds = []
    for epoch in range(EPOCHS):
        order = torch.randperm(n, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for first in range(0, n, batch):
            index = order[first:first + batch]
            x = ((images[index].float() - mean) / std).contiguous(memory_format=memory_format)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = torch.nn.functional.cross_entropy(model(x), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
        if epoch > 0:
            speeds.append(n / (time.perf_counter() - start))
    return sum(speeds) / len(speeds)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="passed to ftrun, e.g. --set train.cuda_graph=true")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    with tempfile.TemporaryDirectory() as work:
        write_cifar10(os.path.join(work, "cifar"))
        ftrun = ftrun_speed(preset, os.path.join(work, "cifar"), os.path.join(work, "bench.db"), args.threads,
                            args.overrides)
    torch_ips = pytorch_speed(preset, args.threads)
    print(f"{preset['model']}, 3x32x32, batch {preset['batch']}, Adam, {preset['precision']}, {preset['device']}, "
          f"{args.threads} threads, torch {torch.__version__}" + "".join(f", {o}" for o in args.overrides))
    print(f"  ftrun    {ftrun:8.1f} images/s")
    print(f"  PyTorch  {torch_ips:8.1f} images/s")
    target = "1.0" if args.preset == "cpu" else "1.5"
    print(f"  ratio    {ftrun / torch_ips:8.2f}x  (ftrun / PyTorch; target >= {target})")


if __name__ == "__main__":
    sys.exit(main())
