"""Folder inference for Mask R-CNN checkpoints: overlays and a COCO-results JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from gluonext.common.drawing import draw_instances
from gluonext.common.files import write_json
from gluonext.common.images import coco_image_ids, list_inputs, readable_images
from gluonext.engine.checkpoint import load_checkpoint, read_meta
from gluonext.engine.devices import parse_contexts
from gluonext.instance.evaluate import predict_instances, to_coco_results
from gluonext.instance.model import build_from_meta
from gluonext.rcnn.model import initialize
from gluonext.rcnn.presets import MaskRCNNValTransform


@dataclass
class InstancePredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    ctx: str = "cpu"
    min_score: float = 0.05  # kept in the JSON
    draw_score: float = 0.5  # drawn on the overlays
    annotations: Path | None = None  # COCO JSON giving image ids by file name
    progress: bool = True


def load_instance_model(checkpoint: Path, ctx: mx.Context):
    """The Mask R-CNN of a ``train_mask_rcnn.py`` checkpoint, on ``ctx``, and its meta."""
    meta = read_meta(checkpoint)
    if "category_ids" not in meta:
        raise ValueError(f"{checkpoint}: not a train_mask_rcnn.py checkpoint")
    net = build_from_meta(meta)
    initialize(net, [ctx])
    load_checkpoint(checkpoint, net)
    net.hybridize(static_alloc=True)
    return net, meta


def image_ids_by_name(annotations: Path | None, files: list[Path]) -> dict[str, int]:
    """Image ids from a COCO JSON's ``file_name`` where given, else 1.. in file order."""
    if annotations is None:
        return {path.name: k for k, path in enumerate(files, start=1)}
    known = coco_image_ids(annotations)
    return {path.name: known[path.name] for path in files if path.name in known}


def predict_folder(options: InstancePredictOptions) -> dict:
    """Write ``<name>_overlay.jpg`` per image and ``predictions.json`` (COCO results with
    ``file_name``); returns counts and the skipped files with reasons."""
    ctx = parse_contexts(ctx=options.ctx)[0]
    net, meta = load_instance_model(options.checkpoint, ctx)
    classes, category_ids = list(meta["classes"]), list(meta["category_ids"])
    transform = MaskRCNNValTransform(meta["short"][-1], meta["max_size"])
    files = list_inputs(options.input)
    ids = image_ids_by_name(options.annotations, files)
    options.output.mkdir(parents=True, exist_ok=True)
    records, done = [], 0
    known = [p for p in files if p.name in ids]
    skipped = [(str(p), f"not in {options.annotations}") for p in files if p.name not in ids]
    for path, image in readable_images(known, skipped, "predict", options.progress):
        found = predict_instances(net, image, transform, ctx, options.min_score)
        for record in to_coco_results(ids[path.name], found, category_ids):
            record["file_name"] = path.name
            records.append(record)
        drawn = np.flatnonzero(found.scores >= options.draw_score)
        picture = draw_instances(
            image,
            found.boxes[drawn],
            found.class_ids[drawn],
            found.scores[drawn],
            classes,
            found.masks[:, :, drawn],
        )
        cv2.imwrite(str(options.output / f"{path.stem}_overlay.jpg"), picture[:, :, ::-1])
        done += 1
    write_json(options.output / "predictions.json", records)
    write_json(
        options.output / "skipped.json",
        [{"file": f, "reason": r} for f, r in skipped],
        indent=2,
    )
    return {"done": done, "detections": len(records), "skipped": skipped}
