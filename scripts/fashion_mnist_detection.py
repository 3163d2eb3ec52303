#!/usr/bin/env python3
"""Builds an object-detection set in COCO's format from Debian's Fashion-MNIST (package dataset-fashion-mnist).

Each canvas (128x128 grayscale PNG by default) holds 1 to 4 Fashion-MNIST items, each scaled to 20-60 pixels and
placed at a random position, overlapping others little; each item's box is the tight box of its visible pixels,
its category its Fashion-MNIST class (ids 1-10, in the dataset's class order). Train canvases take their items from
Fashion-MNIST's 60,000 training images, validation and test canvases from the 10,000 test images (the first and
second half), so no item is seen in two splits. The same seed writes the same set on every machine.

    scripts/fashion_mnist_detection.py OUT [--seed 0] [--train 600] [--val 150] [--test 150] [--canvas 128]
                                           [--classes 5 6 7 8 9]

--canvas LOW HIGH draws each canvas's width and height in [LOW, HIGH] instead: a set of images of several sizes,
as real detection sets are (ftrun pads each batch to its largest image).

--classes draws the items from those Fashion-MNIST classes only (0-9; all by default); the annotation files still
list all ten categories, so category ids mean the same in every set.

writes OUT/{train,val,test}/NNNNNN.png and OUT/annotations/instances_{train,val,test}.json, the layout COCO and
ftrun's `coco` dataset read (docs/experiments.md, Detection). Needs numpy and Pillow (the project's virtualenv).
"""

import argparse
import gzip
import json
import pathlib
import sys

import numpy as np
from PIL import Image

FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
MIN_SIZE, MAX_SIZE = 20, 60  # an item's side on the canvas, in pixels
VISIBLE = 24                 # a pixel brighter than this is part of the item's box
MAX_OVERLAP = 0.25           # IoU allowed between two items' boxes on one canvas


def read_idx(path):
    """An IDX file of unsigned bytes (images [N, 28, 28] or labels [N])."""
    if not path.exists():
        sys.exit(f"{path} not found: install Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    data = gzip.open(path).read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def place(canvas, item, rng, boxes):
    """Pastes `item` (28x28) scaled at a random free spot of `canvas`; its tight box [x, y, w, h], or None."""
    height, width = canvas.shape
    for _ in range(20):
        size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        scaled = np.asarray(Image.fromarray(item).resize((size, size), Image.BILINEAR))
        rows, cols = np.nonzero(scaled > VISIBLE)
        if len(rows) == 0:
            return None
        if height == width:  # one draw for both, as sets of one canvas size were always drawn
            x, y = (int(v) for v in rng.integers(0, width - size + 1, size=2))
        else:
            x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
        box = [x + int(cols.min()), y + int(rows.min()), int(cols.max() - cols.min() + 1),
               int(rows.max() - rows.min() + 1)]
        if all(iou(box, other) <= MAX_OVERLAP for other in boxes):
            region = canvas[y:y + size, x:x + size]
            np.maximum(region, scaled, out=region)  # items are light on black: the brighter pixel shows
            return box
    return None


def write_split(out, split, count, images, labels, rng, canvas_sides):
    folder = out / split
    folder.mkdir(parents=True, exist_ok=True)
    coco = {"info": {"description": f"Fashion-MNIST detection canvases, {split} split (scripts/fashion_mnist_detection.py)"},
            "images": [], "annotations": [],
            "categories": [{"id": i + 1, "name": name, "supercategory": "fashion"} for i, name in enumerate(CLASS_NAMES)]}
    annotation_id = 1
    for index in range(count):
        low, high = canvas_sides[0], canvas_sides[-1]
        height, width = (low, low) if low == high else (int(v) for v in rng.integers(low, high + 1, size=2))
        canvas = np.zeros((height, width), dtype=np.uint8)
        boxes = []
        for source in rng.integers(0, len(images), size=int(rng.integers(1, 5))):
            box = place(canvas, images[source], rng, boxes)
            if box is None:
                continue
            boxes.append(box)
            coco["annotations"].append({"id": annotation_id, "image_id": index + 1, "category_id": int(labels[source]) + 1,
                                        "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
            annotation_id += 1
        name = f"{index + 1:06d}.png"
        Image.fromarray(canvas).save(folder / name, optimize=False)
        coco["images"].append({"id": index + 1, "file_name": name, "width": width, "height": height})
    (out / "annotations").mkdir(exist_ok=True)
    (out / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--test", type=int, default=150)
    parser.add_argument("--canvas", type=int, nargs="+", default=[128], metavar="SIDE",
                        help="a canvas's side, or LOW HIGH: each canvas's width and height drawn in that range")
    parser.add_argument("--fashion-mnist", type=pathlib.Path, default=FASHION_MNIST)
    parser.add_argument("--classes", type=int, nargs="+", choices=range(10), default=list(range(10)),
                        help="draw items from these classes only (0-9)")
    args = parser.parse_args()
    if len(args.canvas) > 2 or args.canvas[0] > args.canvas[-1]:
        sys.exit(f"--canvas {args.canvas}: expected one side or LOW HIGH")
    if args.canvas[0] < MAX_SIZE:
        sys.exit(f"--canvas {args.canvas[0]}: a canvas must be at least {MAX_SIZE} pixels, the largest item")
    train_images = read_idx(args.fashion_mnist / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(args.fashion_mnist / "train-labels-idx1-ubyte.gz")
    test_images = read_idx(args.fashion_mnist / "t10k-images-idx3-ubyte.gz")
    test_labels = read_idx(args.fashion_mnist / "t10k-labels-idx1-ubyte.gz")
    half = len(test_images) // 2
    kept = np.isin(train_labels, args.classes)
    train_images, train_labels = train_images[kept], train_labels[kept]
    # Halved before filtering, so that validation and test items stay apart as without --classes.
    val_kept, test_kept = np.isin(test_labels[:half], args.classes), np.isin(test_labels[half:], args.classes)
    # One stream per split, so that a split's canvases do not change when another split's count does.
    streams = np.random.SeedSequence(args.seed).spawn(3)
    for split, count, images, labels, stream in [
            ("train", args.train, train_images, train_labels, streams[0]),
            ("val", args.val, test_images[:half][val_kept], test_labels[:half][val_kept], streams[1]),
            ("test", args.test, test_images[half:][test_kept], test_labels[half:][test_kept], streams[2])]:
        write_split(args.out, split, count, images, labels, np.random.default_rng(stream), args.canvas)
    print(f"wrote {args.train} + {args.val} + {args.test} canvases and their COCO annotations to {args.out}")


if __name__ == "__main__":
    main()
