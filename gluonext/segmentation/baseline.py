"""The image-blind baseline of garment parsing: what label statistics alone score.

From the training labels only, the share of each class at each position of the image in
normalised coordinates (a 32 x 32 grid: garments sit in the middle, background at the edges,
upper body above lower body); a validation image is predicted, without looking at it, as the
most frequent class at each position. Scored with the task's own metric (one confusion matrix,
mIoU) on the validation labels at their original resolution, a trained model has to beat it
to have learned anything from the pictures.
"""

from __future__ import annotations

import cv2
import numpy as np

from gluonext.common.splits import sample_indices
from gluonext.segmentation.metrics import ConfusionMatrix

GRID = 32


def class_prior(dataset, num_class: int, max_images: int = 2000, seed: int = 0) -> np.ndarray:
    """(GRID, GRID, num_class) share of each class at each normalised position, from the
    labels of ``dataset`` (a seeded sample of at most ``max_images``)."""
    indices = sample_indices(len(dataset), max_images, seed)
    shares = np.zeros((GRID, GRID, num_class), np.float64)
    for index in indices:
        label = np.asarray(dataset.label(index))
        for cls in range(num_class):
            plane = (label == cls).astype(np.float32)
            shares[:, :, cls] += cv2.resize(plane, (GRID, GRID), interpolation=cv2.INTER_AREA)
    return shares / max(1, len(indices))


def predict(prior: np.ndarray, height: int, width: int) -> np.ndarray:
    """The class map the prior predicts for an image of ``height`` x ``width``."""
    best = prior.argmax(axis=2).astype(np.uint8)
    return cv2.resize(best, (width, height), interpolation=cv2.INTER_NEAREST)


def evaluate_baseline(train_set, val_set) -> ConfusionMatrix:
    """The baseline of ``train_set``'s labels scored on ``val_set`` (whole labels)."""
    prior = class_prior(train_set, train_set.NUM_CLASS)
    matrix = ConfusionMatrix(val_set.NUM_CLASS, list(val_set.CLASSES))
    for index in range(len(val_set)):
        label = np.asarray(val_set.label(index))
        matrix.update(label, predict(prior, *label.shape[:2]))
    return matrix
