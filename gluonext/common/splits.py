"""Seeded splits of a dataset by image."""

from __future__ import annotations

import numpy as np


def split_by_image(stems: list[str], ratio: float = 0.8, seed: int = 0) -> tuple[list, list]:
    """(train, test) stems: a seeded permutation of the sorted stems, ``ratio`` to train
    (rounded, at least one image on each side when there are two or more)."""
    if not 0 < ratio < 1:
        raise ValueError(f"--ratio {ratio}: must be between 0 and 1")
    ordered = sorted(stems)
    order = np.random.RandomState(seed).permutation(len(ordered))
    n_train = int(round(len(ordered) * ratio))
    if len(ordered) >= 2:
        n_train = min(max(n_train, 1), len(ordered) - 1)
    train = sorted(ordered[i] for i in order[:n_train])
    test = sorted(ordered[i] for i in order[n_train:])
    return train, test


def sample_indices(count: int, most: int, seed: int = 0) -> list[int]:
    """All of ``range(count)``, or a seeded sorted sample of ``most`` of them."""
    if count <= most:
        return list(range(count))
    return sorted(int(i) for i in np.random.RandomState(seed).choice(count, most, replace=False))
