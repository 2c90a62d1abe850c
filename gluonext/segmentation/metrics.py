"""Segmentation metrics from one confusion matrix over a whole evaluation set.

pixAcc is correct labelled pixels over labelled pixels; IoU of a class is
``TP / (TP + FP + FN)`` summed over the whole set (the clothing13 parsing project's
dataset-level IoU), and mIoU is their mean over classes that occur in the labels or the
predictions. Ignored pixels (label < 0 or >= the number of classes, e.g. -1 or 255) are left
out.
"""

from __future__ import annotations

import numpy as np


def _shown(value) -> str:
    return "   n/a" if value is None or np.isnan(value) else f"{value:6.3f}"


class ConfusionMatrix:
    """Accumulates a ``num_class x num_class`` matrix of (label, prediction) pixel counts."""

    def __init__(self, num_class: int, class_names: list[str] | None = None):
        self.num_class = num_class
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_class)]
        self.matrix = np.zeros((num_class, num_class), dtype=np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0

    def update(self, labels, predictions) -> None:
        """Add a batch: integer label maps and predicted class maps of the same shape."""
        labels = np.asarray(labels).astype(np.int64, copy=False).ravel()
        predictions = np.asarray(predictions).astype(np.int64, copy=False).ravel()
        if labels.shape != predictions.shape:
            raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
        n = self.num_class
        valid = (labels >= 0) & (labels < n)
        index = labels[valid] * n + np.clip(predictions[valid], 0, n - 1)
        self.matrix += np.bincount(index, minlength=n * n).reshape(n, n)

    def merge(self, other: ConfusionMatrix) -> None:
        self.matrix += other.matrix

    @property
    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else 0.0

    @property
    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for a class absent from both labels and predictions."""
        tp = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / np.maximum(union, 1), np.nan)

    @property
    def mean_iou(self) -> float:
        iou = self.iou
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0

    def table(self, baseline: ConfusionMatrix | None = None) -> str:
        """Per-class IoU table, as the clothing13 parsing project reported it; with
        ``baseline`` (the image-blind predictor's matrix) a column of its IoU beside."""
        width = max(12, *(len(name) for name in self.class_names))
        extra = f"  {'baseline':>8}" if baseline is not None else ""
        lines = [f"{'class':<{width}}  {'IoU':>6}{extra}  {'pixels':>10}"]
        other = baseline.iou if baseline is not None else [None] * self.num_class
        for name, value, base, pixels in zip(
            self.class_names, self.iou, other, self.matrix.sum(1), strict=True
        ):
            column = "" if baseline is None else f"  {_shown(base):>8}"
            lines.append(f"{name:<{width}}  {_shown(value)}{column}  {pixels:>10}")
        for name, ours, theirs in (
            ("mIoU", self.mean_iou, baseline.mean_iou if baseline else None),
            ("pixAcc", self.pixel_accuracy, baseline.pixel_accuracy if baseline else None),
        ):
            lines.append(
                f"{name:<{width}}  {ours:6.3f}" + ("" if theirs is None else f"  {theirs:8.3f}")
            )
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "pixAcc": self.pixel_accuracy,
            "mIoU": self.mean_iou,
            "per_class_iou": {
                name: (None if np.isnan(v) else float(v))
                for name, v in zip(self.class_names, self.iou, strict=True)
            },
        }
