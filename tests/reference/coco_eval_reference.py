"""pycocotools' COCOeval (bbox) on crafted and random detection sets: the reference for ftrun's COCO mAP (issue 21).

Prints a JSON list of cases, each {"name", "images", "categories", "objects", "detections", "stats"}: the split's
image and category ids, the ground truth (id, image_id, category_id, bbox [x, y, w, h], area, iscrowd), the
detections in results-file order (image_id, category_id, bbox, score) and COCOeval's twelve summary numbers.
Exits 77 when pycocotools is not installed (scripts/setup installs it from PyPI).
"""

import contextlib
import io
import json
import sys

try:
    import numpy as np
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError:
    sys.exit(77)


def coco_stats(case):
    ground_truth = COCO()
    ground_truth.dataset = {
        "images": [{"id": i} for i in case["images"]],
        "categories": [{"id": c} for c in case["categories"]],
        "annotations": case["objects"],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        if case["detections"]:
            results = ground_truth.loadRes([dict(d) for d in case["detections"]])
        else:  # loadRes cannot take an empty list: an empty result set built as it would be
            results = COCO()
            results.dataset = {"images": ground_truth.dataset["images"], "categories": ground_truth.dataset["categories"],
                               "annotations": []}
            results.createIndex()
        evaluation = COCOeval(ground_truth, results, "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats]


def box(x, y, w, h):
    return [float(x), float(y), float(w), float(h)]


def obj(id, image, category, bbox, crowd=0, area=None):
    return {"id": id, "image_id": image, "category_id": category, "bbox": bbox, "iscrowd": crowd,
            "area": float(bbox[2] * bbox[3] if area is None else area)}


def det(image, category, bbox, score):
    return {"image_id": image, "category_id": category, "bbox": bbox, "score": float(score)}


def crafted():
    cases = []
    # Two images, one category: a perfect hit, a duplicate of it, a near miss (IoU between thresholds), a miss.
    objects = [obj(1, 1, 1, box(10, 10, 40, 40)), obj(2, 1, 1, box(60, 60, 20, 30)), obj(3, 2, 1, box(0, 0, 100, 80))]
    detections = [det(1, 1, box(10, 10, 40, 40), 0.9), det(1, 1, box(11, 10, 40, 40), 0.8),
                  det(1, 1, box(64, 62, 20, 30), 0.7), det(2, 1, box(30, 20, 100, 80), 0.6),
                  det(2, 1, box(200, 200, 10, 10), 0.95)]
    cases.append({"name": "hits, a duplicate, near misses and a false positive", "images": [1, 2], "categories": [1],
                  "objects": objects, "detections": detections})
    cases.append({"name": "no predictions", "images": [1, 2], "categories": [1], "objects": objects, "detections": []})
    # A crowd region: detections inside it are ignored, however many; one real object beside it.
    objects = [obj(1, 1, 1, box(0, 0, 100, 100), crowd=1), obj(2, 1, 1, box(120, 120, 30, 30))]
    detections = [det(1, 1, box(5, 5, 20, 20), 0.9), det(1, 1, box(50, 50, 30, 30), 0.85),
                  det(1, 1, box(120, 121, 30, 30), 0.8), det(1, 1, box(0, 0, 100, 100), 0.5)]
    cases.append({"name": "a crowd region", "images": [1], "categories": [1], "objects": objects,
                  "detections": detections})
    # Equal scores across images and within one: the order of the results file decides, as in COCOeval.
    objects = [obj(1, 1, 1, box(0, 0, 50, 50)), obj(2, 2, 1, box(0, 0, 50, 50)), obj(3, 3, 2, box(10, 10, 5, 5))]
    detections = [det(2, 1, box(100, 100, 50, 50), 0.5), det(1, 1, box(0, 0, 50, 50), 0.5),
                  det(2, 1, box(0, 0, 50, 50), 0.5), det(1, 1, box(0, 0, 49, 50), 0.5),
                  det(3, 2, box(10, 10, 5, 5), 0.3), det(3, 2, box(10, 11, 5, 5), 0.3)]
    cases.append({"name": "ties in score", "images": [1, 2, 3], "categories": [1, 2, 3], "objects": objects,
                  "detections": detections})
    # Sizes in every area range, an image with no objects (its detections are false positives), more than 100
    # detections on one image, a detection of a category outside the set, an annotation area unlike the box's.
    objects = [obj(1, 1, 1, box(0, 0, 20, 20)), obj(2, 1, 1, box(50, 50, 60, 60)),
               obj(3, 1, 2, box(0, 100, 200, 150), area=5000.0), obj(4, 2, 2, box(5, 5, 31, 33)),
               obj(5, 2, 1, box(100, 100, 120, 100))]
    detections = [det(1, 1, box(1, 1, 20, 20), 0.4), det(1, 1, box(50, 52, 60, 58), 0.6),
                  det(1, 2, box(0, 100, 190, 150), 0.7), det(2, 2, box(5, 5, 31, 33), 0.2),
                  det(3, 1, box(0, 0, 10, 10), 0.99), det(1, 9, box(0, 0, 20, 20), 0.9),
                  det(2, 1, box(95, 100, 120, 100), 0.3)]
    detections += [det(2, 2, box(i, i, 31, 33), 0.1 + i / 1000) for i in range(1, 120)]
    cases.append({"name": "area ranges, an empty image, over 100 detections", "images": [1, 2, 3],
                  "categories": [1, 2], "objects": objects, "detections": detections})
    return cases


def random_case(seed, images, categories):
    """Objects of every size with crowd regions; detections jittered from them, duplicated, or made up; scores
    rounded to 0.05 so that ties are common."""
    rng = np.random.default_rng(seed)
    objects, detections = [], []
    for image in range(1, images + 1):
        for _ in range(rng.integers(0, 7)):
            w, h = rng.uniform(4, 150, size=2)
            x, y = rng.uniform(0, 300, size=2)
            category = int(rng.integers(1, categories + 1))
            crowd = int(rng.random() < 0.05)
            objects.append(obj(len(objects) + 1, image, category, box(x, y, w, h), crowd=crowd))
            for _ in range(rng.integers(0, 3)):
                jitter = rng.normal(0, 0.12, size=4) * [w, h, w, h]
                label = category if rng.random() < 0.85 else int(rng.integers(1, categories + 1))
                detections.append(det(image, label, box(x + jitter[0], y + jitter[1], abs(w + jitter[2]),
                                                         abs(h + jitter[3])), round(rng.random() * 20) / 20))
        for _ in range(rng.integers(0, 3)):
            detections.append(det(image, int(rng.integers(1, categories + 1)),
                                  box(*rng.uniform(0, 300, size=2), *rng.uniform(4, 100, size=2)),
                                  round(rng.random() * 20) / 20))
    order = rng.permutation(len(detections))
    return {"name": f"random set (seed {seed}, {images} images, {categories} categories)",
            "images": list(range(1, images + 1)), "categories": list(range(1, categories + 1)),
            "objects": objects, "detections": [detections[i] for i in order]}


def main():
    cases = crafted() + [random_case(seed, 80, 5) for seed in range(3)]
    if len(sys.argv) > 1:  # a case from a file (a detection set and its predictions written by a test)
        cases = [json.loads(open(sys.argv[1]).read())]
    for case in cases:
        case["stats"] = coco_stats(case)
    print(json.dumps(cases))


if __name__ == "__main__":
    main()
