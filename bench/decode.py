#!/usr/bin/env python3
"""Image decoding: ftrun's loader threads (libjpeg-turbo with DCT scaling, `ftrun input-speed`) against
torchvision's ImageFolder and a DataLoader with the same number of workers and the same transforms, in one go.

    .venv/bin/python bench/decode.py [--transform eval|train] [--workers N] [--images N] [--epochs N]

A folder of JPEGs (quality 90) of photo-like random content in four sizes from 320x240 to 1024x768, two classes.
eval:  Resize(256) + CenterCrop(224);  train: RandomResizedCrop(224) + RandomHorizontalFlip.
Both end in normalised float32 batches of 64. Two ratios: the whole run's wall-clock (ftrun's process start, LibTorch
loading and folder listing included: ftrun checks that every file decodes when it lists the folder, PyTorch finds a
broken file mid-epoch; PyTorch's worker start-up included), and the steady rate of the epochs after the first.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import v2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [(320, 240), (500, 375), (640, 480), (1024, 768)]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_jpegs(folder, count):
    """Low-frequency colour noise upsampled with detail on top: compresses like a photo, not like flat colour."""
    rng = np.random.default_rng(0)
    for i in range(count):
        w, h = SIZES[i % len(SIZES)]
        coarse = Image.fromarray(rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)).resize((w, h),
                                                                                                     Image.BICUBIC)
        detail = rng.normal(0, 12, (h, w, 3))
        pixels = np.clip(np.asarray(coarse, dtype=np.float64) + detail, 0, 255).astype(np.uint8)
        path = os.path.join(folder, f"class_{i % 2}", f"{i:05d}.jpg")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)


def ftrun_seconds(folder, transform, workers, epochs, threads):
    start = time.perf_counter()
    result = subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"), "input-speed",
                             os.path.join(ROOT, "bench", "decode.toml"), "--epochs", str(epochs),
                             "--set", f"dataset.root={folder}", "--set", f"train.loader_threads={workers}",
                             "--set", f"experiment.threads={threads}",
                             "--set", f"dataset.random_resized_crop={'true' if transform == 'train' else 'false'}"]
                            + (["--set", 'dataset.augment=["hflip"]'] if transform == "train" else []),
                            check=True, capture_output=True, text=True)
    rates = [float(line.split()[3]) for line in result.stdout.splitlines() if line.split()[:1] and
             line.split()[0].isdigit()]
    return time.perf_counter() - start, result.stdout, rates


def pytorch_seconds(folder, transform, workers, epochs, threads):
    torch.set_num_threads(threads)
    start = time.perf_counter()
    if transform == "train":
        steps = [v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip()]
    else:
        steps = [v2.Resize(256, antialias=True), v2.CenterCrop(224)]
    pipeline = v2.Compose([v2.PILToTensor(), *steps, v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])
    dataset = torchvision.datasets.ImageFolder(folder, transform=pipeline)
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    images, rates = 0, []
    for _ in range(epochs):
        epoch_start, epoch_images = time.perf_counter(), 0
        for batch, labels in loader:
            epoch_images += labels.numel()
        rates.append(epoch_images / (time.perf_counter() - epoch_start))
        images += epoch_images
    return time.perf_counter() - start, images, rates


def steady(rates):
    """The mean rate of the epochs after the first (worker start-up, page cache)."""
    later = rates[1:] or rates
    return sum(later) / len(later)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transform", choices=["eval", "train"], default="eval")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = os.path.join(work, "images")
        write_jpegs(folder, args.images)
        ftrun_s, table, ftrun_rates = ftrun_seconds(folder, args.transform, args.workers, args.epochs, args.threads)
        torch_s, images, torch_rates = pytorch_seconds(folder, args.transform, args.workers, args.epochs, args.threads)
    print(f"decode ({args.transform}): {args.images} JPEGs {SIZES[0][0]}x{SIZES[0][1]} to {SIZES[-1][0]}x"
          f"{SIZES[-1][1]} -> 224x224, batch 64, {args.workers} loader workers, {args.epochs} epochs, "
          f"{args.threads} threads, torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"  whole run  ftrun {ftrun_s:6.1f} s, PyTorch {torch_s:6.1f} s: {torch_s / ftrun_s:5.2f}x")
    print(f"  steady     ftrun {steady(ftrun_rates):6.0f} images/s, PyTorch {steady(torch_rates):6.0f} images/s: "
          f"{steady(ftrun_rates) / steady(torch_rates):5.2f}x  (ftrun faster by; target >= 1.5)")


if __name__ == "__main__":
    sys.exit(main())
