"""Box detection metrics: Pascal VOC07 mAP (the apparel detector's metric) and COCO mAP.

``VOC07MAP`` follows GluonCV's ``VOC07MApMetric`` rule for rule: per class, detections sorted
by score are matched to the ground truth of their image at IoU >= 0.5 (VOC pixel boxes: +1 on
the far corner), each ground-truth box matched once; detections matched to a *difficult* box
count neither way; AP is the 11-point interpolated precision; mAP is the mean over classes
that have ground truth. ``voc_to_coco`` makes a COCO ground truth of the same boxes so that
``instance_eval.coco_evaluate`` gives COCO's AP on them too.
"""

from __future__ import annotations

import numpy as np


def _iou_voc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of corner boxes in VOC pixel convention (far corner inclusive)."""
    a = a.astype(np.float64).copy()
    b = b.astype(np.float64).copy()
    a[:, 2:] += 1
    b[:, 2:] += 1
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    inter *= (top_left < bottom_right).all(axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


class VOC07MAP:
    """Accumulates detections image by image; ``get()`` returns (per-class AP, mAP)."""

    def __init__(self, class_names, iou_thresh: float = 0.5):
        self.class_names, self.iou_thresh = list(class_names), iou_thresh
        self.reset()

    def reset(self) -> None:
        count = len(self.class_names)
        self.scores = [[] for _ in range(count)]
        self.matches = [[] for _ in range(count)]  # 1 true, 0 false, -1 difficult (ignored)
        self.n_pos = np.zeros(count, dtype=np.int64)

    def update(self, boxes, labels, scores, gt_boxes, gt_labels, gt_difficult=None) -> None:
        """One image: detections (N, 4) / (N,) / (N,) (label < 0 = padding) and its ground
        truth (M, 4) / (M,) / (M,)."""
        labels, gt_labels = np.asarray(labels).ravel(), np.asarray(gt_labels).ravel()
        keep, gt_keep = labels >= 0, gt_labels >= 0
        boxes, labels = np.asarray(boxes)[keep], labels[keep].astype(int)
        scores = np.asarray(scores).ravel()[keep]
        gt_boxes, gt_labels = np.asarray(gt_boxes)[gt_keep], gt_labels[gt_keep].astype(int)
        difficult = (
            np.zeros(len(gt_labels), bool)
            if gt_difficult is None
            else np.asarray(gt_difficult).ravel()[gt_keep].astype(bool)
        )
        for cls in np.unique(np.concatenate([labels, gt_labels])):
            mine, theirs = labels == cls, gt_labels == cls
            hard = difficult[theirs]
            self.n_pos[cls] += int((~hard).sum())
            if not mine.any():
                continue
            order = np.argsort(-scores[mine], kind="stable")
            self.scores[cls].extend(scores[mine][order].tolist())
            if not theirs.any():
                self.matches[cls].extend([0] * int(mine.sum()))
                continue
            iou = _iou_voc(boxes[mine][order], gt_boxes[theirs])
            best = iou.argmax(axis=1)
            best[iou.max(axis=1) < self.iou_thresh] = -1
            taken = np.zeros(int(theirs.sum()), bool)
            for gt in best:
                if gt < 0:
                    self.matches[cls].append(0)
                elif hard[gt]:
                    self.matches[cls].append(-1)
                else:
                    self.matches[cls].append(0 if taken[gt] else 1)
                if gt >= 0:
                    taken[gt] = True

    def average_precisions(self) -> list[float]:
        """11-point AP per class (NaN for classes without ground truth)."""
        aps = []
        for cls in range(len(self.class_names)):
            if self.n_pos[cls] == 0:
                aps.append(float("nan"))
                continue
            scores = np.asarray(self.scores[cls])
            matches = np.asarray(self.matches[cls], dtype=np.int32)[np.argsort(-scores)]
            tp, fp = np.cumsum(matches == 1), np.cumsum(matches == 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                precision = np.nan_to_num(tp / (tp + fp))
            recall = tp / self.n_pos[cls]
            ap = 0.0
            for t in np.arange(0.0, 1.1, 0.1):
                above = recall >= t
                ap += (precision[above].max() if above.any() else 0.0) / 11
            aps.append(float(ap))
        return aps

    def get(self) -> tuple[dict, float]:
        aps = self.average_precisions()
        per_class = dict(zip(self.class_names, aps, strict=True))
        valid = [a for a in aps if not np.isnan(a)]
        return per_class, float(np.mean(valid)) if valid else 0.0


def voc_to_coco(labels: list[np.ndarray], sizes: list[tuple[int, int]], class_names) -> dict:
    """A COCO ground-truth dict of VOC-style labels ((M, 6): box, class, difficult), image ids
    1..N in order; difficult boxes become ``iscrowd`` (ignored by COCOeval)."""
    images, annotations = [], []
    for image_id, (label, (height, width)) in enumerate(zip(labels, sizes, strict=True), 1):
        images.append({"id": image_id, "width": int(width), "height": int(height)})
        for x1, y1, x2, y2, cls, *rest in np.asarray(label).tolist():
            w, h = x2 - x1 + 1, y2 - y1 + 1  # VOC pixel boxes
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls),
                    "bbox": [x1, y1, w, h],
                    "area": w * h,
                    "iscrowd": int(rest[0]) if rest else 0,
                }
            )
    categories = [{"id": k, "name": n} for k, n in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}
