#!/usr/bin/env python3
"""Write a torchvision (or timm) model's weights to a .safetensors file that ftrun's backbones load unchanged.

    .venv/bin/python scripts/export_weights.py resnet50 weights/resnet50.safetensors --pretrained
    .venv/bin/python scripts/export_weights.py resnet18 /tmp/r18.safetensors --seed 0      # random init, offline
    .venv/bin/python scripts/export_weights.py resnet50 out.safetensors --timm resnet50.a1_in1k --pretrained

--pretrained fetches ImageNet weights through torchvision's weights API (IMAGENET1K_V2 for ResNet-50/101/152,
IMAGENET1K_V1 otherwise) or timm's hub, so it needs internet access once; the download is cached by torch.hub.
Without it, the model is randomly initialised with --seed, which works offline (tests use this).
The classifier (fc.*) is kept; ftrun drops it when it puts its own head on top, and says so.
"""
import argparse
import os
import sys

import torch
from safetensors.torch import save_file

DEFAULT_WEIGHTS = {"resnet18": "IMAGENET1K_V1", "resnet34": "IMAGENET1K_V1", "resnet50": "IMAGENET1K_V2",
                   "resnet101": "IMAGENET1K_V2", "resnet152": "IMAGENET1K_V2"}


def build(args):
    if args.timm:
        import timm  # optional: pip install timm
        return timm.create_model(args.timm, pretrained=args.pretrained)
    import torchvision
    weights = (args.weights or DEFAULT_WEIGHTS.get(args.model, "DEFAULT")) if args.pretrained else None
    return torchvision.models.get_model(args.model, weights=weights)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="torchvision model name, e.g. resnet50")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--pretrained", action="store_true", help="download ImageNet weights (needs internet)")
    parser.add_argument("--weights", help="torchvision weights enum name, e.g. IMAGENET1K_V1")
    parser.add_argument("--timm", help="a timm model name instead of torchvision's")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    try:
        model = build(args)
    except Exception as error:  # network errors, unknown names: say what to do
        sys.exit(f"export_weights: cannot build {args.model}: {error}\n"
                 "(--pretrained needs internet access; copy a .safetensors file from a machine that has it)")
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_file(state, args.output, metadata={"source": args.timm or f"torchvision.{args.model}",
                                            "pretrained": str(args.pretrained)})
    print(f"wrote {len(state)} tensors to {args.output}")


if __name__ == "__main__":
    main()
