"""The image-blind baseline of garment landmarks: each keypoint at its mean position.

From the training rows only, the mean position of every keypoint of every category in
normalised image coordinates (the pose recipe's box is the whole image); a validation image is
predicted, without looking at it, as those means scaled to its size. Scored with NE, the
task's own metric, a trained model has to fall well below it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS, image_size
from gluonext.keypoints.metrics import NormalizedError


def _normalised(dataset, index: int) -> tuple[np.ndarray, tuple[int, int]]:
    row = dataset.rows[index]
    width, height = row.size or image_size(Path(dataset.root) / row.image_id)
    points = row.points.copy()
    points[:, 0] /= width
    points[:, 1] /= height
    return points, (width, height)


def mean_positions(dataset) -> dict[str, np.ndarray]:
    """Per category, the (24, 2) mean normalised x, y of each keypoint the training rows give
    a position for (v 0 or 1); NaN where a category never has that keypoint."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for index in range(len(dataset)):
        points, _ = _normalised(dataset, index)
        category = dataset.rows[index].category
        known = points[:, 2] >= 0
        sums.setdefault(category, np.zeros((len(FASHIONAI_KEYPOINTS), 2)))[known] += points[
            known, :2
        ]
        counts.setdefault(category, np.zeros(len(FASHIONAI_KEYPOINTS)))[known] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return {c: sums[c] / counts[c][:, None] for c in sums}


def evaluate_baseline(train_set, val_set) -> dict:
    """NE (percent, overall and per category) of the training means on ``val_set``; a
    category the training rows lack falls back to the mean over all categories."""
    means = mean_positions(train_set)
    overall = None
    if means:
        with warnings.catch_warnings():  # keypoints no category has: NaN, filled below
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = np.nanmean(np.stack(list(means.values())), axis=0)
    metric = NormalizedError()
    for index in range(len(val_set)):
        row = val_set.rows[index]
        _, (width, height) = _normalised(val_set, index)
        guess = means.get(row.category, overall)
        if guess is None:
            continue
        predicted = np.nan_to_num(guess, nan=0.5) * np.array([width, height])
        metric.update(row.category, predicted.astype(np.float32), row.points)
    return {"NE": metric.overall, "per_category": metric.per_category(),
            "unscored": metric.unscored}  # fmt: skip
