"""Folder inference for Mask R-CNN models: overlays and a COCO-results JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from gluonext.common.files import write_json
from gluonext.common.images import coco_image_ids, list_inputs, readable_images
from gluonext.instance.evaluate import to_coco_results


@dataclass
class InstancePredictOptions:
    checkpoint: Path
    input: Path
    output: Path
    draw_score: float = 0.5  # drawn on the overlays
    annotations: Path | None = None  # COCO JSON giving image ids by file name
    progress: bool = True
    upright: bool = True  # photos turned by their EXIF orientation


def image_ids_by_name(annotations: Path | None, files: list[Path]) -> dict[str, int]:
    """Image ids from a COCO JSON's ``file_name`` where given, else 1.. in file order."""
    if annotations is None:
        return {path.name: k for k, path in enumerate(files, start=1)}
    known = coco_image_ids(annotations)
    return {path.name: known[path.name] for path in files if path.name in known}


def predict_folder(options: InstancePredictOptions, predictor) -> dict:
    """Write ``<name>_overlay.jpg`` per image and ``predictions.json`` (COCO results with
    ``file_name``) with ``predictor`` (``gluonext.load_predictor``, its ``min_score`` set);
    returns counts and the skipped files with reasons."""
    category_ids = list(predictor.spec["category_ids"])
    files = list_inputs(options.input)
    ids = image_ids_by_name(options.annotations, files)
    options.output.mkdir(parents=True, exist_ok=True)
    records, done = [], 0
    known = [p for p in files if p.name in ids]
    skipped = [(str(p), f"not in {options.annotations}") for p in files if p.name not in ids]
    turned: dict[str, int] = {}
    reading = readable_images(known, skipped, "predict", options.progress, options.upright, turned)
    for path, image in reading:
        found = predictor(image)
        for record in to_coco_results(ids[path.name], found.instances, category_ids,
                                      found.vocabulary):  # fmt: skip
            record["file_name"] = path.name
            if path.name in turned:  # masks in the upright frame, not the stored one
                record["exif_orientation"] = turned[path.name]
            records.append(record)
        picture = found.draw(image, options.draw_score)
        cv2.imwrite(str(options.output / f"{path.stem}_overlay.jpg"), picture[:, :, ::-1])
        done += 1
    write_json(options.output / "predictions.json", records)
    write_json(
        options.output / "skipped.json",
        [{"file": f, "reason": r} for f, r in skipped],
        indent=2,
    )
    return {"done": done, "detections": len(records), "skipped": skipped}
