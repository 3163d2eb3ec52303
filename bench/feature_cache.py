#!/usr/bin/env python3
"""Frozen backbones: ftrun (whose feature cache runs the frozen part once per image) against a careful PyTorch loop
(the frozen part in eval mode under no_grad, the rest trained each step), on the same work, in one go: the time of
each, and the held-out accuracy each reaches over several seeds.

    .venv/bin/python bench/feature_cache.py --case linear_probe [--threads N] [--seeds 5]   # whole backbone frozen
    .venv/bin/python bench/feature_cache.py --case layer3 [--threads N] [--seeds 5]         # up to layer3 frozen

ResNet-18 (torchvision's architecture), a 10-class linear head, batch 64, Adam (lr 1e-3), fp32, 10 epochs, on the
CPU. The data is real: 1,920 Fashion-MNIST training images (192 per class) and 2,000 of its test images, padded to
32x32 and repeated over 3 channels, written in CIFAR-10's binary layout so ftrun reads them with its cifar10 plugin
(every record, no validation split) and PyTorch reads the same arrays. The frozen weights are the same file on both
sides: a torchvision ResNet-18 initialised with seed 0 (there is no internet here for ImageNet weights), written as
safetensors. Each seed changes the head's initial weights and the order of the batches, on both sides.

The time is the whole training of seed 0 (ftrun: the cache plus every epoch's seconds, read from its log and its
store; PyTorch: its loop), without process start and data loading. The accuracy is on the 2,000 test images after
the last epoch: mean and range over the seeds.
"""
import argparse
import gzip
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import MEAN, ROOT, STD  # noqa: E402

PER_CLASS, TEST_IMAGES, BATCH, EPOCHS = 192, 2000, 64, 10
FROZEN = {"linear_probe": '["*"]', "layer3": '["conv1", "bn1", "layer1", "layer2", "layer3"]'}
FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    with gzip.open(os.path.join(FASHION, name)) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_as_cifar():
    """The first PER_CLASS training images of each class and the first TEST_IMAGES test images, as 3x32x32 uint8."""
    def convert(images):
        padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
        return np.repeat(padded[:, None], 3, axis=1)

    images, labels = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    chosen = np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(10)])
    chosen.sort()
    test_images, test_labels = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    return (convert(images[chosen]), labels[chosen].astype(np.int64), convert(test_images[:TEST_IMAGES]),
            test_labels[:TEST_IMAGES].astype(np.int64))


def write_cifar(folder, train_x, train_y, test_x, test_y):
    """CIFAR-10's layout: the training records spread over data_batch_1..5, the test records in test_batch."""
    os.makedirs(folder, exist_ok=True)

    def records(x, y):
        out = np.empty((len(x), 3073), dtype=np.uint8)
        out[:, 0] = y
        out[:, 1:] = x.reshape(len(x), -1)
        return out

    for i, part in enumerate(np.array_split(np.arange(len(train_x)), 5)):
        records(train_x[part], train_y[part]).tofile(os.path.join(folder, f"data_batch_{i + 1}.bin"))
    records(test_x, test_y).tofile(os.path.join(folder, "test_batch.bin"))


def frozen_weights(path):
    torch.manual_seed(0)
    net = torchvision.models.resnet18()
    save_file({k: v.contiguous() for k, v in net.state_dict().items() if not k.startswith("fc.")}, path)
    return net.state_dict()


def run_ftrun(data, weights, store, threads, case, seed):
    """ftrun's training seconds (the feature cache plus every epoch) and its test accuracy after the last epoch."""
    result = subprocess.run([os.path.join(ROOT, os.environ.get("FTRUN_BUILD", "build"), "ftrun"),
                             os.path.join(ROOT, "bench", "feature_cache_cpu.toml"),
                             "--set", f"dataset.root={data}", "--set", f"experiment.threads={threads}",
                             "--set", f"backbone.freeze={FROZEN[case]}", "--set", f"backbone.weights={weights}",
                             "--set", f"experiment.seed={seed}", "--store", store], check=True, capture_output=True,
                            text=True)
    cache = re.search(r"feature cache: .* ([0-9.]+) s\)", result.stderr + result.stdout)
    if not cache:
        sys.exit("ftrun did not use its feature cache:\n" + result.stderr)
    db = sqlite3.connect(store)
    run = db.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    epochs = db.execute("SELECT SUM(seconds) FROM epoch_metrics WHERE run_id = ?", (run,)).fetchone()[0]
    accuracy = db.execute("SELECT value FROM metrics WHERE run_id = ? AND name = 'test_accuracy'", (run,)).fetchone()
    return float(cache.group(1)) + epochs, accuracy[0]


def run_pytorch(state, train_x, train_y, test_x, test_y, threads, case, seed):
    torch.set_num_threads(threads)
    net = torchvision.models.resnet18()
    net.load_state_dict(state)
    torch.manual_seed(seed)
    net.fc = torch.nn.Linear(512, 10)
    images, labels = torch.from_numpy(train_x), torch.from_numpy(train_y)
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
        order = torch.randperm(len(images))
        for first in range(0, len(images), BATCH):
            index = order[first:first + BATCH]
            with torch.no_grad():
                features = frozen((images[index].float() - MEAN) / STD)
            loss = torch.nn.functional.cross_entropy(trained(features), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
    seconds = time.perf_counter() - start
    trained.eval()
    with torch.no_grad():
        x = (torch.from_numpy(test_x).float() - MEAN) / STD
        predictions = torch.cat([trained(frozen(x[i:i + 256])).argmax(1) for i in range(0, len(x), 256)])
    return seconds, (predictions == torch.from_numpy(test_y)).float().mean().item()


def summary(values):
    return f"mean {np.mean(values):.4f}  range [{min(values):.4f}, {max(values):.4f}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(FROZEN), default="linear_probe")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    train_x, train_y, test_x, test_y = fashion_as_cifar()
    ftrun_runs, torch_runs = [], []
    with tempfile.TemporaryDirectory() as work:
        write_cifar(os.path.join(work, "cifar"), train_x, train_y, test_x, test_y)
        weights = os.path.join(work, "resnet18_seed0.safetensors")
        state = frozen_weights(weights)
        for seed in range(args.seeds):
            ftrun_runs.append(run_ftrun(os.path.join(work, "cifar"), weights, os.path.join(work, "bench.db"),
                                        args.threads, args.case, seed))
            torch_runs.append(run_pytorch(state, train_x, train_y, test_x, test_y, args.threads, args.case, seed))
    ftrun_s, torch_s = ftrun_runs[0][0], torch_runs[0][0]
    images = len(train_x) * EPOCHS
    print(f"{args.case}: resnet18 frozen {FROZEN[args.case]}, Fashion-MNIST as 3x32x32 ({len(train_x)} training, "
          f"{len(test_x)} test images), batch {BATCH}, Adam, fp32, cpu, {EPOCHS} epochs, {args.threads} threads, "
          f"torch {torch.__version__}")
    print(f"  ftrun    {ftrun_s:8.1f} s  ({images / ftrun_s:8.0f} images/s)")
    print(f"  PyTorch  {torch_s:8.1f} s  ({images / torch_s:8.0f} images/s)")
    target = 5 if args.case == "linear_probe" else 2
    print(f"  ratio    {torch_s / ftrun_s:8.2f}x  (ftrun faster by; target >= {target})")
    print(f"  test accuracy over {args.seeds} seeds:")
    print(f"    ftrun    {summary([a for _, a in ftrun_runs])}")
    print(f"    PyTorch  {summary([a for _, a in torch_runs])}")


if __name__ == "__main__":
    sys.exit(main())
