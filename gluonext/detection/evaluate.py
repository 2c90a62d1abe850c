"""Detector inference at each image's own resolution, and its VOC07 / COCO evaluation."""

from __future__ import annotations

import mxnet as mx
import numpy as np

from gluonext.common.coco_eval import coco_evaluate, load_coco
from gluonext.detection.metrics import VOC07MAP, voc_to_coco


def predict_boxes(net, image: np.ndarray, recipe, ctx, min_score: float = 0.001):
    """(class ids, scores, boxes) of one RGB image; the network sees it as the recipe's
    validation transform makes it (SSD / YOLO: ``data_shape`` square; Faster R-CNN: short
    side within max size), boxes come back in the image's pixels."""
    array, sx, sy = recipe.inference_input(image)
    ids, scores, boxes = net(mx.nd.array(array, ctx=ctx))
    ids, scores = ids[0, :, 0].asnumpy(), scores[0, :, 0].asnumpy()
    kept = np.flatnonzero((ids >= 0) & (scores >= min_score))
    return boxes_in_image(ids, scores, boxes[0].asnumpy(), kept, (sx, sy), image.shape[:2])


def boxes_in_image(ids, scores, boxes, kept, scale_xy, size):
    """(class ids, scores, boxes) of the candidates ``kept`` (in that order): boxes divided by
    the input's (x, y) scale and clipped to the image's (height, width)."""
    sx, sy = scale_xy
    height, width = size
    found = boxes[kept] / np.array([sx, sy, sx, sy], dtype=np.float32)
    found[:, (0, 2)] = found[:, (0, 2)].clip(0, width - 1)
    found[:, (1, 3)] = found[:, (1, 3)].clip(0, height - 1)
    return ids[kept].astype(int), scores[kept], found


def evaluate_detection(net, dataset, ctx, recipe, progress=None) -> dict:
    """VOC07 mAP@0.5 per class and COCO box AP over ``dataset`` (labels (M, 6) VOC rows)."""
    metric = VOC07MAP(dataset.CLASSES)
    labels, sizes, results = [], [], []
    indices = range(len(dataset))
    for index in progress(indices) if progress else indices:
        image, label = dataset.load(index)
        ids, scores, boxes = predict_boxes(net, image, recipe, ctx)
        difficult = label[:, 5] if label.shape[1] > 5 else None
        metric.update(boxes, ids, scores, label[:, :4], label[:, 4], difficult)
        labels.append(label)
        sizes.append(image.shape[:2])
        for cls, score, (x1, y1, x2, y2) in zip(ids, scores, boxes, strict=True):
            results.append(
                {
                    "image_id": index + 1,
                    "category_id": int(cls),
                    "bbox": [float(x1), float(y1), float(x2 - x1 + 1), float(y2 - y1 + 1)],
                    "score": float(score),
                }
            )
    per_class, voc_map = metric.get()
    coco = coco_evaluate(
        load_coco(voc_to_coco(labels, sizes, dataset.CLASSES)), results, kinds=("bbox",)
    )
    return {"voc07_per_class": per_class, "voc07_mAP": voc_map, "coco": coco["bbox"]}


def preview_boxes(net, dataset, recipe, ctx, count: int = 3, min_score: float = 0.3) -> list:
    """(name, picture) of the first ``count`` images' boxes scored ``min_score`` or more."""
    from gluonext.common.drawing import draw_instances

    pictures = []
    for index in range(min(count, len(dataset))):
        image, _ = dataset.load(index)
        ids, scores, boxes = predict_boxes(net, image, recipe, ctx, min_score)
        pictures.append(
            (f"image{index}", draw_instances(image, boxes, ids, scores, dataset.CLASSES))
        )
    return pictures


def score_predictor(predictor, dataset, indices=None) -> float:
    """VOC07 mAP@0.5 of ``predictor`` (any backend of ``load_predictor``) over ``dataset``."""
    metric = VOC07MAP(dataset.CLASSES)
    for index in range(len(dataset)) if indices is None else indices:
        image, label = dataset.load(index)
        found = predictor(image)
        difficult = label[:, 5] if label.shape[1] > 5 else None
        metric.update(found.boxes, found.class_ids, found.scores, label[:, :4], label[:, 4],
                      difficult)  # fmt: skip
    return metric.get()[1]
