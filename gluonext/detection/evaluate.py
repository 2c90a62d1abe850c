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
    height, width = image.shape[:2]
    array, sx, sy = recipe.inference_input(image)
    ids, scores, boxes = net(mx.nd.array(array, ctx=ctx))
    ids, scores = ids[0, :, 0].asnumpy(), scores[0, :, 0].asnumpy()
    keep = (ids >= 0) & (scores >= min_score)
    boxes = boxes[0].asnumpy()[keep] / np.array([sx, sy, sx, sy])
    boxes[:, (0, 2)] = boxes[:, (0, 2)].clip(0, width - 1)
    boxes[:, (1, 3)] = boxes[:, (1, 3)].clip(0, height - 1)
    return ids[keep].astype(int), scores[keep], boxes


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
