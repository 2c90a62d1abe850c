"""Folder inference for detection models: box overlays and a JSON of detections."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gluonext.common.files import write_json
from gluonext.common.images import list_inputs, readable_images


@dataclass
class DetectionPredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    draw_score: float = 0.5  # drawn on the overlays
    progress: bool = True
    upright: bool = True  # photos turned by their EXIF orientation


def detections_record(path: Path, image: np.ndarray, found) -> dict:
    """One image's entry of ``detections.json``: its size and ``found``'s detections (pixel
    corners, best first, as ``DetectionResult.to_json`` gives them)."""
    return {"file_name": path.name, "width": int(image.shape[1]),
            "height": int(image.shape[0]), "detections": found.to_json()["detections"]}  # fmt: skip


def predict_folder(options: DetectionPredictOptions, predictor) -> dict:
    """Write ``<name>_boxes.jpg`` per image and ``detections.json`` with ``predictor``
    (``gluonext.load_predictor``, its ``min_score`` set); returns counts and the skipped
    files with reasons."""
    classes = predictor.classes
    files = list_inputs(options.input)
    options.output.mkdir(parents=True, exist_ok=True)
    images, skipped, count = [], [], 0
    reading = readable_images(files, skipped, "predict", options.progress, options.upright)
    for path, image in reading:
        found = predictor(image)
        images.append(detections_record(path, image, found))
        count += len(found.scores)
        picture = found.draw(image, options.draw_score)
        cv2.imwrite(str(options.output / f"{path.stem}_boxes.jpg"), picture[:, :, ::-1])
    payload = {
        "checkpoint": str(options.checkpoint),
        "model": predictor.spec["model"]["model"],
        "classes": classes,
        "min_score": predictor.min_score,
        "images": images,
        "skipped": [{"file": f, "reason": r} for f, r in skipped],
    }
    write_json(options.output / "detections.json", payload, indent=1)
    return {"done": len(images), "detections": count, "skipped": skipped}
