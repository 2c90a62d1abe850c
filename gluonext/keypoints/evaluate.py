"""Keypoint prediction over a FashionAI dataset and its NE evaluation."""

from __future__ import annotations

import numpy as np

from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS
from gluonext.keypoints.decode import predict_keypoints
from gluonext.keypoints.metrics import NormalizedError


def to_24(columns, coords: np.ndarray) -> np.ndarray:
    """(J, 2) predictions of joints at CSV ``columns`` placed in the 24-keypoint order."""
    full = np.full((len(FASHIONAI_KEYPOINTS), 2), -1.0, np.float32)
    full[list(columns)] = coords
    return full


def evaluate_keypoints(net, dataset, input_size, ctx, flip_test=False, scales=(1.0,),
                       progress=None) -> dict:  # fmt: skip
    """NE in percent per category and overall over ``dataset`` (its rows' categories)."""
    metric = NormalizedError()
    indices = range(len(dataset))
    for index in progress(indices) if progress else indices:
        image, _, _ = dataset.load(index)
        coords, _ = predict_keypoints(net, image, input_size, ctx, dataset.pairs, flip_test, scales)
        row = dataset.rows[index]
        metric.update(row.category, to_24(dataset.columns, coords), row.points)
    return {"NE": metric.overall, "per_category": metric.per_category(),
            "unscored": metric.unscored}  # fmt: skip


def preview_landmarks(net, dataset, input_size, ctx, count: int = 3) -> list:
    """(name, picture) of the first ``count`` images' predicted landmarks (their category's)."""
    from gluonext.common.drawing import draw_keypoints
    from gluonext.formats.fashionai import FASHIONAI_CATEGORY_KEYPOINTS, flip_pairs

    pictures = []
    for index in range(min(count, len(dataset))):
        image, _, _ = dataset.load(index)
        coords, _ = predict_keypoints(net, image, input_size, ctx, dataset.pairs)
        names = list(dataset.names)
        own = [k for k, n in enumerate(names)
               if n in FASHIONAI_CATEGORY_KEYPOINTS[dataset.rows[index].category]]  # fmt: skip
        shown = [names[k] for k in own]
        pictures.append((f"image{index}", draw_keypoints(image, coords[own], shown,
                                                         flip_pairs(shown))))  # fmt: skip
    return pictures


def score_predictor(predictor, dataset, indices=None) -> float:
    """NE in percent of ``predictor`` (any backend of ``load_predictor``) over ``dataset``,
    each image read for its row's category."""
    metric = NormalizedError()
    columns = [FASHIONAI_KEYPOINTS.index(n) for n in predictor.names]
    for index in range(len(dataset)) if indices is None else indices:
        image, _, _ = dataset.load(index)
        row = dataset.rows[index]
        found = predictor(image, category=row.category)
        metric.update(row.category, to_24(columns, found.points), row.points)
    return metric.overall
