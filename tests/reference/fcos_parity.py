"""Reference for test_fcos_parity.cpp: torchvision's FCOS pyramid, heads, losses and post-processing on fixed inputs.

    python fcos_parity.py OUT_DIR

Builds torchvision's FeaturePyramidNetwork (with LastLevelP6P7 on P5) over backbone features of 32, 64 and 128
channels and its FCOSHead for 5 classes, with the heads' weights moved off their initial values so that the
classes score above the thresholds. Runs FCOS's own compute_loss and postprocess_detections (through an FCOS model
holding that head) on a batch of three images: no objects, one object, and seven of every size. Writes
OUT_DIR/weights.safetensors (`fpn.*`, `head.*`, torchvision's names) and OUT_DIR/reference.safetensors: the
features, the targets, the pyramid, the head's outputs, the anchors, the three losses, the gradients of their sum,
and the detections at three score thresholds.
"""
import sys
from collections import OrderedDict

import torch
from safetensors.torch import save_file
from torchvision.models.detection.fcos import FCOS, FCOSHead
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelP6P7

out = sys.argv[1]
torch.manual_seed(0)
torch.set_num_threads(1)
CLASSES = 5
fpn = FeaturePyramidNetwork([32, 64, 128], 64, extra_blocks=LastLevelP6P7(64, 64))
head = FCOSHead(64, 1, CLASSES)
with torch.no_grad():
    for name, parameter in head.named_parameters():
        parameter.add_(torch.randn_like(parameter) * (0.05 if parameter.dim() > 1 else 0.2))
    head.classification_head.cls_logits.bias.add_(3.0)  # from a prior of 0.01 to about 0.2


class Features(torch.nn.Module):
    out_channels = 64


model = FCOS(Features(), num_classes=CLASSES, head=head)
weights = {"fpn." + k: v for k, v in fpn.state_dict().items()}
weights.update({"head." + k: v for k, v in head.state_dict().items()})
save_file({k: v.contiguous() for k, v in weights.items()}, f"{out}/weights.safetensors")

features = [torch.randn(3, 32, 32, 32), torch.randn(3, 64, 16, 16), torch.randn(3, 128, 8, 8)]
image_sizes = [(256, 256), (240, 200), (256, 180)]
images = ImageList(torch.zeros(3, 3, 256, 256), image_sizes)
targets = [
    {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
    {"boxes": torch.tensor([[30.0, 40.0, 90.0, 120.0]]), "labels": torch.tensor([2])},
    {"boxes": torch.tensor([[5.0, 5.0, 15.0, 17.0], [100.0, 20.0, 140.0, 60.0], [20.0, 20.0, 230.0, 250.0],
                            [60.0, 60.0, 120.0, 200.0], [62.0, 58.0, 118.0, 190.0], [150.0, 150.0, 179.0, 250.0],
                            [0.0, 128.0, 64.0, 192.0]]),
     "labels": torch.tensor([0, 1, 4, 3, 3, 2, 1])},
]

pyramid = list(fpn(OrderedDict((str(i), f) for i, f in enumerate(features))).values())
outputs = head(pyramid)
anchors = model.anchor_generator(images, pyramid)
per_level = [p.size(2) * p.size(3) for p in pyramid]
losses = model.compute_loss(targets, outputs, anchors, per_level)
sum(losses.values()).backward()

reference = {f"features.{i}": f for i, f in enumerate(features)}
reference.update({f"pyramid.{i}": p.detach() for i, p in enumerate(pyramid)})
reference.update({k: v.detach() for k, v in outputs.items()})
reference["anchors"] = anchors[0]
for i, t in enumerate(targets):
    reference[f"targets.{i}.boxes"] = t["boxes"]
    reference[f"targets.{i}.labels"] = t["labels"]
reference.update({"loss." + k: v.detach().reshape(1) for k, v in losses.items()})
reference.update({"grad.fpn." + k: p.grad for k, p in fpn.named_parameters()})
reference.update({"grad.head." + k: p.grad for k, p in head.named_parameters()})
split = {k: list(v.detach().split(per_level, dim=1)) for k, v in outputs.items()}
split_anchors = [list(a.split(per_level)) for a in anchors]
for threshold in (0.2, 0.5, 0.6):  # one NMS per class (over 1000 boxes), one with classes moved apart, few
    model.score_thresh = threshold
    with torch.no_grad():
        detections = model.postprocess_detections(split, split_anchors, image_sizes)
    for i, d in enumerate(detections):
        for key, value in d.items():
            reference[f"detections.{threshold}.{i}.{key}"] = value
save_file({k: v.contiguous() for k, v in reference.items()}, f"{out}/reference.safetensors")
