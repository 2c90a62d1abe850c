"""Folder inference for segmentation checkpoints: masks, overlays and class fractions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from gluonext.common.drawing import colorize, overlay, palette_for
from gluonext.common.files import write_json
from gluonext.common.images import list_inputs, listed_in_coco, normalize, readable_images
from gluonext.engine.checkpoint import load_checkpoint, read_meta
from gluonext.engine.devices import parse_contexts
from gluonext.segmentation.evaluate import predict_logits
from gluonext.segmentation.model import model_from_checkpoint_meta


@dataclass
class PredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    ctx: str = "cpu"
    size: int | None = None
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    alpha: float = 0.5
    progress: bool = True
    annotations: Path | None = None  # only the images this COCO JSON lists


def load_segmenter(checkpoint: Path, ctx: mx.Context):
    meta = read_meta(checkpoint)
    net = model_from_checkpoint_meta(meta)
    load_checkpoint(checkpoint, net)
    net.collect_params().reset_ctx(ctx)
    return net, meta


def segment_image(net, image: np.ndarray, ctx, long_side: int, scales, flip) -> np.ndarray:
    """Class map of an RGB image at its own resolution; the network sees ``long_side``."""
    h, w = image.shape[:2]
    factor = long_side / max(h, w)
    small = cv2.resize(
        image,
        (max(8, round(w * factor)), max(8, round(h * factor))),
        interpolation=cv2.INTER_LINEAR,
    )
    scores = predict_logits(net, mx.nd.array(normalize(small)[None], ctx=ctx), scales, flip)
    scores = mx.nd.contrib.BilinearResize2D(scores, height=h, width=w)
    return scores[0].argmax(axis=0).asnumpy().astype(np.uint8)


def predict_folder(options: PredictOptions) -> dict:
    ctx = parse_contexts(ctx=options.ctx)[0]
    net, meta = load_segmenter(options.checkpoint, ctx)
    classes = list(meta["classes"])
    palette = palette_for(len(classes), meta.get("label_mode"))
    long_side = options.size or meta.get("args", {}).get("base_size", 520)
    options.output.mkdir(parents=True, exist_ok=True)
    fractions, skipped = {}, []
    files = list_inputs(options.input)
    if options.annotations is not None:
        files = listed_in_coco(files, options.annotations)
    for path, image in readable_images(files, skipped, "segment", options.progress):
        mask = segment_image(net, image, ctx, long_side, options.scales, options.flip)
        colorize(mask, palette).save(options.output / f"{path.stem}_mask.png")
        blended = overlay(image, mask, palette, options.alpha)
        cv2.imwrite(str(options.output / f"{path.stem}_overlay.jpg"), blended[:, :, ::-1])
        counts = np.bincount(mask.ravel(), minlength=len(classes))
        fractions[path.name] = {
            name: round(float(c) / mask.size, 5) for name, c in zip(classes, counts, strict=True)
        }
    write_json(
        options.output / "class_fractions.json",
        {
            "checkpoint": str(options.checkpoint),
            "classes": classes,
            "images": fractions,
            "skipped": [{"file": f, "reason": r} for f, r in skipped],
        },
        indent=2,
    )
    return {"done": len(fractions), "skipped": skipped}
