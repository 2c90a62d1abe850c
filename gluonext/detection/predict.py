"""Folder inference for detection checkpoints: box overlays and a JSON of detections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from gluonext.common.drawing import draw_instances
from gluonext.common.files import write_json
from gluonext.common.images import list_inputs, readable_images
from gluonext.detection.evaluate import predict_boxes
from gluonext.detection.recipes import build_from_meta
from gluonext.engine.checkpoint import load_checkpoint, read_meta
from gluonext.engine.devices import parse_contexts


@dataclass
class DetectionPredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    ctx: str = "cpu"
    min_score: float = 0.05  # kept in the JSON
    draw_score: float = 0.5  # drawn on the overlays
    progress: bool = True


def load_detector(checkpoint: Path, ctx: mx.Context):
    """(recipe, network on ``ctx``, meta) of a ``train_detection.py`` checkpoint."""
    meta = read_meta(checkpoint)
    if meta.get("model") not in ("ssd", "yolo3", "faster_rcnn") or "args" not in meta:
        raise ValueError(f"{checkpoint}: not a train_detection.py checkpoint")
    recipe, net = build_from_meta(meta, ctx)
    load_checkpoint(checkpoint, net)
    net.hybridize(static_alloc=True, static_shape=recipe.name != "faster_rcnn")
    return recipe, net, meta


def detections_record(path: Path, image: np.ndarray, found, classes: list[str]) -> dict:
    """One image's entry of ``detections.json`` (boxes as pixel corners, best first)."""
    ids, scores, boxes = found
    order = np.argsort(-scores, kind="stable")
    return {
        "file_name": path.name,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "detections": [
            {
                "class": classes[int(ids[k])],
                "class_id": int(ids[k]),
                "score": round(float(scores[k]), 5),
                "box": [round(float(v), 2) for v in boxes[k]],
            }
            for k in order
        ],
    }


def predict_folder(options: DetectionPredictOptions) -> dict:
    """Write ``<name>_boxes.jpg`` per image and ``detections.json``; returns counts and the
    skipped files with reasons."""
    ctx = parse_contexts(ctx=options.ctx)[0]
    recipe, net, meta = load_detector(options.checkpoint, ctx)
    classes = list(meta["classes"])
    files = list_inputs(options.input)
    options.output.mkdir(parents=True, exist_ok=True)
    images, skipped, count = [], [], 0
    for path, image in readable_images(files, skipped, "predict", options.progress):
        ids, scores, boxes = predict_boxes(net, image, recipe, ctx, options.min_score)
        images.append(detections_record(path, image, (ids, scores, boxes), classes))
        count += len(ids)
        drawn = scores >= options.draw_score
        picture = draw_instances(image, boxes[drawn], ids[drawn], scores[drawn], classes)
        cv2.imwrite(str(options.output / f"{path.stem}_boxes.jpg"), picture[:, :, ::-1])
    payload = {
        "checkpoint": str(options.checkpoint),
        "model": meta["model"],
        "classes": classes,
        "min_score": options.min_score,
        "images": images,
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
    }
    write_json(options.output / "detections.json", payload, indent=1)
    return {"done": len(images), "detections": count, "skipped": skipped}
