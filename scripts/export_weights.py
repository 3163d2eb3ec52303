#!/usr/bin/env python3
"""Write a torchvision, timm or HuggingFace model's weights to a .safetensors file that ftrun's backbones load
unchanged.

    .venv/bin/python scripts/export_weights.py resnet50 weights/resnet50.safetensors --pretrained
    .venv/bin/python scripts/export_weights.py resnet18 /tmp/r18.safetensors --seed 0      # random init, offline
    .venv/bin/python scripts/export_weights.py resnet50 out.safetensors --timm resnet50.a1_in1k --pretrained
    .venv/bin/python scripts/export_weights.py bert weights/bert.safetensors --hf bert-base-uncased --pretrained
    .venv/bin/python scripts/export_weights.py bert weights/minilm.safetensors --hf sentence-transformers/all-MiniLM-L6-v2 --pretrained
    .venv/bin/python scripts/export_weights.py fcos_resnet50_fpn weights/fcos.safetensors --pretrained   # COCO

fcos_resnet50_fpn (torchvision's COCO detector) is written under ftrun's names: its ResNet (`backbone.body.*`) as
`backbone.*`, which `[backbone] weights` loads into `resnet50`; its feature pyramid (`backbone.fpn.*`) as
`head.fpn.*` and its heads (`head.*`) as `head.fcos.*`, the names of ftrun's `fcos` head. torchvision's detection
ResNet uses frozen BatchNorm, which has no batch counter: a zero `num_batches_tracked` is written for each.

--hf NAME takes a HuggingFace BERT-family checkpoint (BERT, MiniLM, ...) through transformers' BertModel: the
encoder and pooler under BertModel's names (a "bert." prefix of a task model's checkpoint is dropped, its task head
left out), and beside the weights NAME's config.json and vocab.txt (OUTPUT with .config.json and .vocab.txt for
.safetensors), which the `bert` backbone's `config` and the datasets' `tokenizer = "wordpiece"`, `vocab` read.
Without --pretrained a random BertModel of --hf-config's sizes is written (offline).

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
    if args.model.startswith("fcos_") and not args.pretrained:
        # A detector's backbone would otherwise fetch ImageNet weights of its own.
        return torchvision.models.get_model(args.model, weights=None, weights_backbone=None)
    return torchvision.models.get_model(args.model, weights=weights)


def export_huggingface(args):
    from transformers import AutoTokenizer, BertConfig, BertModel
    stem = args.output[:-len(".safetensors")] if args.output.endswith(".safetensors") else args.output
    if args.pretrained:
        model = BertModel.from_pretrained(args.hf)
        AutoTokenizer.from_pretrained(args.hf).save_vocabulary(os.path.dirname(os.path.abspath(stem)) or ".",
                                                               filename_prefix=os.path.basename(stem))
        vocab = f"{stem}-vocab.txt"
        if os.path.exists(vocab):
            os.replace(vocab, f"{stem}.vocab.txt")
    else:
        model = BertModel(BertConfig(**(args.hf_config or {})))
    model.config.to_json_file(f"{stem}.config.json")
    state = {name.removeprefix("bert."): tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, args.output, metadata={"source": f"transformers.{args.hf}", "pretrained": str(args.pretrained)})
    print(f"wrote {len(state)} tensors to {args.output}, its config to {stem}.config.json"
          + (f" and its vocabulary to {stem}.vocab.txt" if args.pretrained else ""))


def fcos_names(state):
    """torchvision's FCOS names → ftrun's: backbone.body.* → backbone.*, backbone.fpn.* → head.fpn.*,
    head.* → head.fcos.*; frozen BatchNorm gets the num_batches_tracked ftrun's BatchNorm has."""
    renamed = {}
    for name, tensor in state.items():
        if name.startswith("backbone.body."):
            renamed["backbone." + name.removeprefix("backbone.body.")] = tensor
            if name.endswith(".running_var"):
                stem = "backbone." + name.removeprefix("backbone.body.").removesuffix("running_var")
                renamed[stem + "num_batches_tracked"] = torch.zeros((), dtype=torch.int64)
        elif name.startswith("backbone.fpn."):
            renamed["head.fpn." + name.removeprefix("backbone.fpn.")] = tensor
        elif name.startswith("head."):
            renamed["head.fcos." + name.removeprefix("head.")] = tensor
        else:
            sys.exit(f"export_weights: unexpected tensor {name} in torchvision's FCOS")
    return renamed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="torchvision model name, e.g. resnet50")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--pretrained", action="store_true", help="download ImageNet weights (needs internet)")
    parser.add_argument("--weights", help="torchvision weights enum name, e.g. IMAGENET1K_V1")
    parser.add_argument("--timm", help="a timm model name instead of torchvision's")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    parser.add_argument("--hf", help="a HuggingFace BERT-family model name (model: bert), e.g. bert-base-uncased")
    parser.add_argument("--hf-config", type=lambda text: __import__("json").loads(text),
                        help='sizes of a random BERT without --pretrained, e.g. \'{"hidden_size": 128}\'')
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    if args.hf or args.model == "bert":
        if not args.hf:
            sys.exit("export_weights: bert needs --hf NAME (e.g. bert-base-uncased)")
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        try:
            export_huggingface(args)
        except OSError as error:
            sys.exit(f"export_weights: cannot fetch {args.hf}: {error}\n"
                     "(--pretrained needs internet access; copy the files from a machine that has it)")
        return
    try:
        model = build(args)
    except Exception as error:  # network errors, unknown names: say what to do
        sys.exit(f"export_weights: cannot build {args.model}: {error}\n"
                 "(--pretrained needs internet access; copy a .safetensors file from a machine that has it)")
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    if args.model.startswith("fcos_"):
        state = fcos_names(state)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_file(state, args.output, metadata={"source": args.timm or f"torchvision.{args.model}",
                                            "pretrained": str(args.pretrained)})
    print(f"wrote {len(state)} tensors to {args.output}")


if __name__ == "__main__":
    main()
