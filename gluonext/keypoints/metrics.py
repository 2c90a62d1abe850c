"""FashionAI's NE (normalised error), per category and overall, in percent.

NE = sum over images k and keypoints p of (d_kp / s_k) [v_kp = 1] / #{(k, p): v_kp = 1}:
d is the distance from prediction to ground truth, s_k the ground-truth distance between
the armpits (blouse, outwear, dress) or the waistband ends (skirt, trousers). Only visible
ground-truth keypoints count. An image whose normalising keypoints are absent or coincide
cannot be scored; it is left out and counted (``unscored``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS, NORMALIZER

INDEX = {name: k for k, name in enumerate(FASHIONAI_KEYPOINTS)}


class NormalizedError:
    """Accumulates NE over images; ``update`` takes 24-keypoint arrays in the CSV's order."""

    def __init__(self):
        self.sums = defaultdict(float)
        self.counts = defaultdict(int)
        self.unscored = 0

    def update(self, category: str, predicted: np.ndarray, truth: np.ndarray) -> None:
        """``predicted`` (24, 2) x, y; ``truth`` (24, 3) x, y, v of one image."""
        a, b = (INDEX[n] for n in NORMALIZER[category])
        if truth[a, 2] < 0 or truth[b, 2] < 0:
            self.unscored += 1
            return
        norm = float(np.hypot(*(truth[a, :2] - truth[b, :2])))
        if norm <= 0:
            self.unscored += 1
            return
        visible = truth[:, 2] == 1
        distance = np.hypot(*(predicted[visible, :2] - truth[visible, :2]).T)
        self.sums[category] += float((distance / norm).sum())
        self.counts[category] += int(visible.sum())

    def per_category(self) -> dict[str, float]:
        """NE in percent per category seen (NaN where no visible keypoint was scored)."""
        return {
            c: 100.0 * self.sums[c] / self.counts[c] if self.counts[c] else float("nan")
            for c in sorted(self.counts)
        }

    @property
    def overall(self) -> float:
        count = sum(self.counts.values())
        return 100.0 * sum(self.sums.values()) / count if count else float("nan")
