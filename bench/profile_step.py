#!/usr/bin/env python3
"""Where a ResNet-18 CPU training step spends its time: convolution kernels, other kernels, and outside kernels.

    .venv/bin/python bench/profile_step.py [--threads N] [--channels-last]

The step of bench/compare.py's cpu preset (torchvision's ResNet-18, a 10-class head, 3x32x32, batch 64, Adam, fp32),
profiled with PyTorch's profiler over 20 steps after 5 warm-up steps. ftrun runs the same ATen kernels through
LibTorch, so the kernel shares are ftrun's too; "outside kernels" is the step's wall time that no operator
accounts for (Python here, C++ in ftrun).
"""
import argparse
import time

import torch
import torchvision
from torch.profiler import ProfilerActivity, profile

STEPS, WARMUP, BATCH = 20, 5, 64


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = torchvision.models.resnet18(num_classes=10).to(memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(BATCH, 3, 32, 32).contiguous(memory_format=memory_format)
    labels = torch.arange(BATCH) % 10

    def step():
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    wall = (time.perf_counter() - start) / STEPS
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(STEPS):
            step()
    conv = other = 0.0
    for event in prof.key_averages():
        self_us = event.self_cpu_time_total / STEPS
        if "conv" in event.key or "mkldnn" in event.key:
            conv += self_us
        else:
            other += self_us
    outside = max(0.0, wall * 1e6 - conv - other)
    total = conv + other + outside
    layout = "channels-last" if args.channels_last else "contiguous (NCHW)"
    print(f"ResNet-18 training step, batch {BATCH}, 3x32x32, Adam, fp32, {args.threads} threads, {layout}, "
          f"torch {torch.__version__}: {wall * 1e3:.1f} ms a step")
    for name, value in (("convolution kernels", conv), ("other kernels", other), ("outside kernels", outside)):
        print(f"  {name:20s} {value / 1e3:7.1f} ms  {100 * value / total:5.1f} %")
    print("  top operators by own time:")
    for event in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:8]:
        print(f"    {event.key:45s} {event.self_cpu_time_total / STEPS / 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
