"""Prior boxes from labels alone: per class, k-means of the boxes in normalised coordinates.

The image-blind baselines of box detection and instance segmentation predict these boxes on
every image, each scored by its class's share of the training boxes times the cluster's share
within the class.
"""

from __future__ import annotations

import numpy as np

PRIORS_PER_CLASS = 5


def kmeans(points: np.ndarray, k: int, seed: int = 0, rounds: int = 30):
    """Plain k-means (seeded k-means++ start): (centres, members per centre)."""
    rng = np.random.RandomState(seed)
    k = min(k, len(np.unique(points, axis=0)))
    centres = [points[rng.randint(len(points))]]
    for _ in range(1, k):
        distance = np.min([((points - c) ** 2).sum(1) for c in centres], axis=0)
        total = distance.sum()
        pick = (
            rng.choice(len(points), p=distance / total) if total > 0 else rng.randint(len(points))
        )
        centres.append(points[pick])
    centres = np.array(centres, dtype=np.float64)
    for _ in range(rounds):
        nearest = ((points[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)
        moved = np.array(
            [points[nearest == j].mean(0) if (nearest == j).any() else centres[j] for j in range(k)]
        )
        if np.allclose(moved, centres):
            break
        centres = moved
    nearest = ((points[:, None, :] - centres[None]) ** 2).sum(2).argmin(1)
    return centres, np.bincount(nearest, minlength=k)


def class_priors(boxes: np.ndarray, classes: np.ndarray, num_class: int, seed: int = 0):
    """(class, centre x / centre y / width / height as image fractions, score) of each prior:
    ``boxes`` (N, 4) normalised cx, cy, w, h of the training boxes, ``classes`` (N,)."""
    priors = []
    for cls in range(num_class):
        own = boxes[classes == cls]
        if not len(own):
            continue
        centres, members = kmeans(own, PRIORS_PER_CLASS, seed)
        share = len(own) / len(boxes)
        for centre, count in zip(centres, members, strict=True):
            if count:
                priors.append((cls, centre, share * count / len(own)))
    return priors


def normalised(label: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, 4) cx, cy, w, h fractions of corner boxes ``label[:, :4]`` in an image."""
    x1, y1, x2, y2 = (label[:, k] for k in range(4))
    return np.stack([(x1 + x2) / 2 / width, (y1 + y2) / 2 / height,
                     (x2 - x1) / width, (y2 - y1) / height], axis=1)  # fmt: skip


def predict(priors, height: int, width: int):
    """(ids, scores, boxes) the priors give an image of ``height`` x ``width``."""
    if not priors:
        return np.zeros(0), np.zeros(0), np.zeros((0, 4))
    ids = np.array([cls for cls, _, _ in priors], np.float32)
    scores = np.array([score for _, _, score in priors], np.float32)
    cx, cy, w, h = np.array([box for _, box, _ in priors]).T
    boxes = np.stack([(cx - w / 2) * width, (cy - h / 2) * height,
                      (cx + w / 2) * width, (cy + h / 2) * height], axis=1)  # fmt: skip
    return ids, scores, boxes
