"""Per-class non-maximum suppression in NumPy, as MXNet's ``contrib.box_nms`` does it with
GluonCV's detector settings (``id_index=0, score_index=1, coord_start=2,
force_suppress=False``). Exported detectors end before their NMS, because ONNX's
NonMaxSuppression suppresses across classes, and every way of running a model then shares
this one."""

from __future__ import annotations

import numpy as np


def box_nms(
    ids: np.ndarray,
    scores: np.ndarray,
    boxes: np.ndarray,
    overlap: float = 0.45,
    topk: int = 400,
    valid_thresh: float = 0.01,
    keep_top: int = 100,
) -> np.ndarray:
    """Indices of the kept candidates, best first.

    ``ids`` (N,), ``scores`` (N,), ``boxes`` (N, 4) corners. Candidates with id -1 or score
    not above ``valid_thresh`` are dropped, the ``topk`` best enter the greedy pass, a box is
    suppressed by a better kept box of the same class with IoU above ``overlap``, and the
    first ``keep_top`` survivors are returned (``topk`` / ``keep_top`` <= 0: no limit).
    """
    valid = np.flatnonzero((ids >= 0) & (scores > valid_thresh))
    order = valid[np.argsort(-scores[valid], kind="stable")]
    if topk > 0:
        order = order[:topk]
    x1, y1, x2, y2 = (boxes[order, k].astype(np.float64) for k in range(4))
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    same = ids[order]
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if not alive[i]:
            continue
        rest = np.arange(i + 1, len(order))
        rest = rest[alive[rest] & (same[rest] == same[i])]
        if not len(rest):
            continue
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        alive[rest[iou > overlap]] = False
    kept = order[alive]
    return kept[:keep_top] if keep_top > 0 else kept
