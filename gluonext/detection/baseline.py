"""The image-blind baseline of apparel boxes: each class's typical boxes, everywhere.

From the training labels only, per class, k-means (k = 5, seeded) of the boxes in normalised
image coordinates (centre x, centre y, width, height); every validation image is given, without
looking at it, those five boxes of every class scaled to its size, scored by the class's share
of the training boxes (times the cluster's share within the class). Scored with VOC07 mAP@0.5,
the task's own metric, a trained detector has to beat it by a wide margin.
"""

from __future__ import annotations

import numpy as np

from gluonext.common.box_priors import class_priors, normalised, predict
from gluonext.detection.metrics import VOC07MAP


def prior_boxes(dataset, seed: int = 0) -> list:
    """The priors of every box of ``dataset`` (``label``, ``size`` per index; no images)."""
    boxes, classes = [np.zeros((0, 4))], [np.zeros(0, int)]
    for index in range(len(dataset)):
        label = dataset.label(index)
        boxes.append(normalised(label, *dataset.size(index)))
        classes.append(label[:, 4].astype(int))
    return class_priors(np.concatenate(boxes), np.concatenate(classes), len(dataset.CLASSES), seed)


def evaluate_baseline(train_set, val_set) -> dict:
    """VOC07 mAP@0.5 (and per class) of ``train_set``'s prior boxes on ``val_set``."""
    priors = prior_boxes(train_set)
    metric = VOC07MAP(val_set.CLASSES)
    for index in range(len(val_set)):
        label = val_set.label(index)
        ids, scores, boxes = predict(priors, *val_set.size(index))
        difficult = label[:, 5] if label.shape[1] > 5 else None
        metric.update(boxes, ids, scores, label[:, :4], label[:, 4], difficult)
    per_class, voc_map = metric.get()
    return {"voc07_mAP": voc_map, "voc07_per_class": per_class}
