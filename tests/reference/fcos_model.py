"""Reference for the whole-detector test in test_fcos_parity.cpp: torchvision's fcos_resnet50_fpn, written by
scripts/export_weights.py's renaming, and its backbone's and heads' outputs on a fixed batch (eval mode).

    python fcos_model.py OUT_DIR

Random weights (no download), with every frozen BatchNorm's statistics and affine moved off the identity so that
loading them is tested. Writes OUT_DIR/weights.safetensors (ftrun's names: backbone.*, head.fpn.*, head.fcos.*)
and OUT_DIR/reference.safetensors: the input, the head's outputs (class logits, box regression, centerness, each
[N, A, ...]) and the anchors.
"""
import pathlib
import sys

import torch
from safetensors.torch import save_file
from torchvision.models.detection import fcos_resnet50_fpn
from torchvision.models.detection.image_list import ImageList

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from export_weights import fcos_names  # noqa: E402

out = pathlib.Path(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)
model = fcos_resnet50_fpn(weights=None, weights_backbone=None).eval()
with torch.no_grad():
    for name, buffer in model.named_buffers():
        if name.endswith("running_mean"):
            buffer.copy_(torch.randn_like(buffer) * 0.1)
        elif name.endswith("running_var"):
            buffer.copy_(torch.rand_like(buffer) + 0.5)
        elif name.endswith(".weight") and "bn" in name or "downsample.1.weight" in name:
            buffer.copy_(torch.rand_like(buffer) + 0.5)
        elif name.endswith(".bias") and ("bn" in name or "downsample.1.bias" in name):
            buffer.copy_(torch.randn_like(buffer) * 0.1)
state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
save_file(fcos_names(state), str(out / "weights.safetensors"))

images = torch.randn(2, 3, 96, 128)
with torch.no_grad():
    features = list(model.backbone(images).values())
    outputs = model.head(features)
    anchors = model.anchor_generator(ImageList(images, [(96, 128)] * 2), features)[0]
save_file({"input": images, "class_logits": outputs["cls_logits"].contiguous(),
           "box_regression": outputs["bbox_regression"].contiguous(),
           "centerness": outputs["bbox_ctrness"].contiguous(), "anchors": anchors.contiguous()},
          str(out / "reference.safetensors"))
