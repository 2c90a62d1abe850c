"""Folder inference for segmentation models: masks, overlays and class fractions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from gluonext.common.drawing import colorize
from gluonext.common.files import write_json
from gluonext.common.images import list_inputs, listed_in_coco, readable_images


@dataclass
class PredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    alpha: float = 0.5
    progress: bool = True
    upright: bool = True  # photos turned by their EXIF orientation
    annotations: Path | None = None  # only the images this COCO JSON lists


def predict_folder(options: PredictOptions, predictor) -> dict:
    """Masks, overlays and ``class_fractions.json`` for every readable input, with
    ``predictor`` (``gluonext.load_predictor`` of a checkpoint or an export folder)."""
    classes = predictor.classes
    options.output.mkdir(parents=True, exist_ok=True)
    fractions, skipped = {}, []
    files = list_inputs(options.input)
    if options.annotations is not None:
        files = listed_in_coco(files, options.annotations)
    reading = readable_images(files, skipped, "segment", options.progress, options.upright)
    for path, image in reading:
        result = predictor(image)
        colorize(result.class_map, result.palette).save(options.output / f"{path.stem}_mask.png")
        blended = result.draw(image, options.alpha)
        cv2.imwrite(str(options.output / f"{path.stem}_overlay.jpg"), blended[:, :, ::-1])
        fractions[path.name] = result.fractions
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
