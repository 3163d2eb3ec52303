"""torchvision.ops.nms and batched_nms on random boxes, for tests/test_fcos_parity.cpp's NMS case.

Boxes on a coarse grid (many exact ties in IoU and score) and fine ones, 2000 in 7 classes (batched_nms's
per-class path) and 900 (its path with classes moved apart); thresholds whose doubles are not floats.
Writes OUT/nms.safetensors: the inputs and each call's kept indices.
"""
import sys

import torch
from safetensors.torch import save_file
from torchvision.ops import batched_nms, nms

generator = torch.Generator().manual_seed(11)
out = {}
for name, count, grid in (("many", 2000, 4.0), ("few", 900, 0.0)):
    corner = torch.rand(count, 2, generator=generator) * 200
    size = 4 + torch.rand(count, 2, generator=generator) * 60
    boxes = torch.cat([corner, corner + size], 1)
    scores = torch.rand(count, generator=generator)
    if grid > 0:  # coordinates and scores on a grid: equal IoUs, equal scores
        boxes = (boxes / grid).round() * grid
        scores = (scores * 50).round() / 50
    labels = torch.randint(0, 7, (count,), generator=generator)
    out[f"{name}.boxes"], out[f"{name}.scores"], out[f"{name}.labels"] = boxes, scores, labels
    for threshold in (0.3, 0.5, 0.6, 0.7):
        out[f"{name}.nms.{threshold}"] = nms(boxes, scores, threshold)
        out[f"{name}.batched.{threshold}"] = batched_nms(boxes, scores, labels, threshold)
save_file(out, sys.argv[1] + "/nms.safetensors")
