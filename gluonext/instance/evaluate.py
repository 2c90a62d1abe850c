"""Mask R-CNN inference at original resolution and COCO evaluation with pycocotools.

``predict_instances`` runs the network on one image and returns boxes in the image's own
pixels with full-size masks; ``to_coco_results`` turns that into COCO result records
(compressed RLE);
``gluonext.common.coco_eval`` scores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import mxnet as mx
import numpy as np
import pycocotools.mask as mask_util


@dataclass
class Instances:
    """Detections of one image, in its own pixel frame."""

    class_ids: np.ndarray  # (N,) int, 0-based class index
    scores: np.ndarray  # (N,) float
    boxes: np.ndarray  # (N, 4) float x1, y1, x2, y2
    masks: np.ndarray  # (H, W, N) uint8 0/1, Fortran order (pycocotools' layout)
    attributes: np.ndarray | None = None  # (N, A) probabilities, with an attribute head

    def take(self, kept) -> Instances:
        """The instances ``kept`` (indices, in that order)."""
        attributes = None if self.attributes is None else self.attributes[kept]
        return Instances(self.class_ids[kept], self.scores[kept], self.boxes[kept],
                         np.asfortranarray(self.masks[:, :, kept]), attributes)  # fmt: skip


def paste_masks(masks: np.ndarray, boxes: np.ndarray, width: int, height: int,
                threshold: float = 0.5) -> np.ndarray:  # fmt: skip
    """Box-relative M x M mask probabilities to full H x W x N binary masks.

    Each mask is padded by one pixel and its box grown to match (as in GluonCV and Detectron),
    resized bilinearly to the box and thresholded (above ``threshold``, 0.5 as GluonCV).
    """
    full = np.zeros((height, width, len(masks)), dtype=np.uint8, order="F")
    for i, (rows, cols, piece) in enumerate(pasted_pieces(masks, boxes, width, height)):
        full[rows, cols, i] = piece > threshold
    return full


def pasted_pieces(masks: np.ndarray, boxes: np.ndarray, width: int, height: int):
    """For each box-relative mask: (row slice, column slice, probabilities) of its part inside
    the H x W image (``paste_masks`` before the threshold)."""
    if not len(masks):
        return
    m_h, m_w = masks.shape[1:]
    padded = np.pad(masks.astype(np.float32), ((0, 0), (1, 1), (1, 1)))
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    half_w = (boxes[:, 2] - boxes[:, 0]) / 2 * (m_w + 2) / m_w
    half_h = (boxes[:, 3] - boxes[:, 1]) / 2 * (m_h + 2) / m_h
    x1, x2 = np.round(cx - half_w).astype(int), np.round(cx + half_w).astype(int)
    y1, y2 = np.round(cy - half_h).astype(int), np.round(cy + half_h).astype(int)
    for i in range(len(masks)):
        w, h = max(1, x2[i] - x1[i] + 1), max(1, y2[i] - y1[i] + 1)
        piece = cv2.resize(padded[i], (w, h), interpolation=cv2.INTER_LINEAR)
        left, top = max(0, x1[i]), max(0, y1[i])
        right, bottom = min(width, x1[i] + w), min(height, y1[i] + h)
        if right > left and bottom > top:
            part = piece[top - y1[i] : bottom - y1[i], left - x1[i] : right - x1[i]]
        else:
            top = bottom = left = right = 0
            part = np.zeros((0, 0), np.float32)
        yield slice(top, bottom), slice(left, right), part


def predict_instances(
    net, image: np.ndarray, transform, ctx: mx.Context, score_threshold: float = 0.001
) -> Instances:
    """Run ``net`` on one H x W x 3 uint8 image (``transform``: MaskRCNNValTransform)."""
    tensor, info = transform(image)
    x = tensor.expand_dims(0).as_in_context(ctx)
    ids, scores, boxes, masks, *attributes = (a[0].asnumpy() for a in net(x))
    keep = np.flatnonzero((ids[:, 0] >= 0) & (scores[:, 0] >= score_threshold))
    return instances_in_image(ids[:, 0], scores[:, 0], boxes, masks, keep,
                              float(info.asnumpy()[2]), image.shape[:2],
                              attributes=attributes[0] if attributes else None)  # fmt: skip


def instances_in_image(ids, scores, boxes, masks, kept, scale: float, size,
                       mask_threshold: float = 0.5, attributes=None) -> Instances:  # fmt: skip
    """The candidates ``kept`` (in that order) in the image's frame: boxes divided by the
    input's ``scale`` and clipped to the image's (height, width), masks pasted full size
    (``attributes``: the attribute head's K x A probabilities, kept alike)."""
    height, width = size
    found = boxes[kept] / scale
    found[:, (0, 2)] = found[:, (0, 2)].clip(0, width)
    found[:, (1, 3)] = found[:, (1, 3)].clip(0, height)
    full = paste_masks(masks[kept], found, width, height, mask_threshold)
    picked = None if attributes is None else attributes[kept]
    return Instances(ids[kept].astype(int), scores[kept], found, full, picked)


def encode_masks(masks: np.ndarray) -> list[dict]:
    """COCO compressed RLE (``size``, ASCII ``counts``) of each of H x W x N masks."""
    if not masks.shape[2]:
        return []
    return [{"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}
            for r in mask_util.encode(np.asfortranarray(masks))]  # fmt: skip


def to_coco_results(image_id: int, found: Instances, category_ids,
                    vocabulary=None) -> list[dict]:  # fmt: skip
    """COCO result records (bbox as x, y, w, h; segmentation as compressed RLE; with attribute
    probabilities and their ``vocabulary``, Fashionpedia's ``attribute_ids``)."""
    rles = encode_masks(found.masks)
    records = []
    for k in range(len(found.scores)):
        x1, y1, x2, y2 = (float(v) for v in found.boxes[k])
        records.append(
            {
                "image_id": int(image_id),
                "category_id": int(category_ids[found.class_ids[k]]),
                "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                "score": round(float(found.scores[k]), 5),
                "segmentation": rles[k],
            }
        )
        if vocabulary is not None and found.attributes is not None:
            records[-1]["attribute_ids"] = vocabulary.predicted(found.attributes[k])
    return records


def preview_instances(net, dataset, transform, ctx, count: int = 3, min_score: float = 0.3):
    """(name, picture) of the first ``count`` images' masks and boxes scored ``min_score`` or
    more."""
    from gluonext.common.drawing import draw_instances

    pictures = []
    for index in range(min(count, len(dataset))):
        image, _, _ = dataset.load(index)
        found = predict_instances(net, image, transform, ctx, min_score)
        picture = draw_instances(image, found.boxes, found.class_ids, found.scores,
                                 list(dataset.CLASSES), found.masks)  # fmt: skip
        pictures.append((f"image{index}", picture))
    return pictures


def score_predictor(predictor, dataset, indices=None) -> float:
    """COCO mask AP of ``predictor`` (any backend of ``load_predictor``) over ``dataset`` (an
    ``InstanceDataset``), or its ``indices``."""
    from gluonext.common.coco_eval import coco_evaluate

    results, seen = [], []
    for index in range(len(dataset)) if indices is None else indices:
        image, _, _ = dataset.load(index)
        image_id = dataset.images[index]["id"]
        results.extend(to_coco_results(image_id, predictor(image).instances,
                                       dataset.category_ids))  # fmt: skip
        seen.append(image_id)
    scores = coco_evaluate(dataset.coco(), results, seen, dataset.category_ids, kinds=("segm",))
    return scores["segm"]["AP"]
