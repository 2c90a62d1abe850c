"""The image-blind baseline of garment instances: each class's typical boxes with its mean mask.

From the training annotations only, per class, k-means (k = 5, seeded) of the boxes in
normalised image coordinates, and the class's mean mask inside its box (every instance's mask
cropped to its box and resized to 28 x 28, averaged). Every validation image is given, without
looking at it, each prior box of each class with that mean mask pasted in, scored by the class's
share of the training instances (times the cluster's share). Scored with COCO mask AP (AP50
for the learning bar), the task's own metric.
"""

from __future__ import annotations

import cv2
import numpy as np
import pycocotools.mask as mask_util

from gluonext.common.box_priors import class_priors, normalised, predict
from gluonext.common.coco_eval import coco_evaluate
from gluonext.common.splits import sample_indices
from gluonext.formats.coco import decode_masks
from gluonext.instance.evaluate import paste_masks

MASK_SIZE = 28
MAX_DETECTIONS = 100  # COCOeval's maxDets: more per image would never be scored


def mean_masks(dataset, indices=None) -> np.ndarray:
    """(classes, 28, 28) mean box-relative mask of each class (0.5 everywhere if none), over
    images ``indices`` (default: all)."""
    sums = np.zeros((dataset.num_class, MASK_SIZE, MASK_SIZE), np.float64)
    counts = np.zeros(dataset.num_class)
    for index in range(len(dataset)) if indices is None else indices:
        height, width = dataset.size(index)
        label = dataset.label(index)
        masks = decode_masks(dataset.segmentations(index), height, width)
        for k, (x1, y1, x2, y2, cls) in enumerate(label[:, :5]):
            x1, y1 = int(np.floor(x1)), int(np.floor(y1))
            x2, y2 = max(x1 + 1, int(np.ceil(x2))), max(y1 + 1, int(np.ceil(y2)))
            crop = masks[y1:y2, x1:x2, k].astype(np.float32)
            if crop.size:
                sums[int(cls)] += cv2.resize(crop, (MASK_SIZE, MASK_SIZE), cv2.INTER_AREA)
                counts[int(cls)] += 1
    means = np.full_like(sums, 0.5)
    seen = counts > 0
    means[seen] = sums[seen] / counts[seen, None, None]
    return means


def evaluate_baseline(train_set, val_set, max_images: int = 2000, attribute_sets=None) -> dict:
    """COCO box and mask AP of ``train_set``'s priors and mean masks (from a seeded sample of
    at most ``max_images`` training images) on ``val_set``; with attribute labels, also its
    Fashionpedia APs (``attributes``) with each category's frequency attribute set
    (``attribute_sets``, made from ``train_set`` when not given)."""
    results = baseline_results(train_set, val_set, max_images)
    scores = coco_evaluate(val_set.coco(), results, val_set.image_ids, val_set.category_ids)
    if getattr(train_set, "vocabulary", None) is not None:
        from gluonext.instance.attribute_eval import evaluate_attributes
        from gluonext.instance.attributes import frequency_baseline

        sets = attribute_sets or frequency_baseline(train_set.all_annotations(),
                                                    train_set.vocabulary)
        for record in results:
            record["attribute_ids"] = sets.get(record["category_id"], [])
        scores["attributes"] = evaluate_attributes(
            val_set.images, val_set.all_annotations(), results, val_set.category_ids,
            len(train_set.vocabulary))  # fmt: skip
    return scores


def baseline_results(train_set, val_set, max_images: int = 2000) -> list[dict]:
    """The baseline's COCO result records on every image of ``val_set``."""
    indices = sample_indices(len(train_set), max_images)
    boxes, classes = [np.zeros((0, 4))], [np.zeros(0, int)]
    for index in indices:
        label = train_set.label(index)
        boxes.append(normalised(label, *train_set.size(index)))
        classes.append(label[:, 4].astype(int))
    priors = class_priors(np.concatenate(boxes), np.concatenate(classes), train_set.num_class)
    masks = mean_masks(train_set, indices)
    results = []
    for index in range(len(val_set)):
        height, width = val_set.size(index)
        ids, scores, corners = predict(priors, height, width)
        if not len(ids):
            continue
        top = np.argsort(-scores, kind="stable")[:MAX_DETECTIONS]  # all COCOeval reads
        ids, scores, corners = ids[top], scores[top], corners[top]
        corners[:, (0, 2)] = corners[:, (0, 2)].clip(0, width)
        corners[:, (1, 3)] = corners[:, (1, 3)].clip(0, height)
        full = paste_masks(masks[ids.astype(int)], corners, width, height)
        rles = mask_util.encode(np.asfortranarray(full))
        for k, (cls, score) in enumerate(zip(ids.astype(int), scores, strict=True)):
            x1, y1, x2, y2 = (float(v) for v in corners[k])
            results.append({
                "image_id": val_set.images[index]["id"],
                "category_id": val_set.category_ids[cls],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(score),
                "segmentation": {"size": [height, width],
                                 "counts": rles[k]["counts"].decode("ascii")},
            })  # fmt: skip
    return results
