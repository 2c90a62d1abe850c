"""Folder or test-list inference for keypoint models: named-landmark overlays and the
26-column CSV of predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from gluonext.common.files import write_json
from gluonext.common.images import list_inputs, readable_images
from gluonext.formats.fashionai import CATEGORIES, FASHIONAI_KEYPOINTS
from gluonext.keypoints.evaluate import to_24
from gluonext.keypoints.submission import (
    TURNED_FILE,
    read_test_list,
    submission_row,
    write_submission,
)


@dataclass
class KeypointPredictOptions:
    checkpoint: Path
    output: Path
    input: Path | None = None  # an image or a folder (category from the folder name)
    test_csv: Path | None = None  # FashionAI test list: image_id,image_category
    data_root: Path | None = None  # where test_csv's image_ids live
    category: str | None = None  # for every input image
    progress: bool = True
    upright: bool = True  # photos turned by their EXIF orientation


def _inputs(options: KeypointPredictOptions, model_category: str):
    """(path, image_id, category or None) for every image to predict."""
    if options.test_csv:
        root = Path(options.data_root or Path(options.test_csv).parent.parent)
        for image_id, category in read_test_list(options.test_csv):
            if model_category in ("all", category):
                yield root / image_id, image_id, category
        return
    for path in list_inputs(options.input):
        category = options.category or (model_category if model_category != "all" else None)
        if category is None and path.parent.name in CATEGORIES:
            category = path.parent.name  # Images/<category>/<name>.jpg
        in_layout = path.parent.name in CATEGORIES
        image_id = f"Images/{path.parent.name}/{path.name}" if in_layout else path.name
        yield path, image_id, category


def predict_folder(options: KeypointPredictOptions, predictor) -> dict:
    """Write ``<stem>_keypoints.jpg`` per image and ``keypoints.csv`` (26 columns) with
    ``predictor`` (``gluonext.load_predictor``, its ``flip_test`` and ``scales`` set); returns
    counts and the skipped inputs with reasons."""
    names = predictor.names
    options.output.mkdir(parents=True, exist_ok=True)
    columns = [FASHIONAI_KEYPOINTS.index(n) for n in names]
    model_category = predictor.spec["keypoints"]["category"]
    items, skipped = list(_inputs(options, model_category)), []
    categories = {}
    for path, image_id, category in items:
        if category is None:
            skipped.append((str(path), "category unknown (give --category or Images/<category>/)"))
        else:
            categories[path] = (image_id, category)
    rows = []
    files = list(categories)
    turned: dict[str, int] = {}
    reading = readable_images(files, skipped, "predict", options.progress, options.upright, turned)
    for path, image in reading:
        image_id, category = categories[path]
        found = predictor(image, category)
        rows.append(submission_row(image_id, category, to_24(columns, found.points)))
        picture = found.draw(image)
        out = options.output / f"{Path(image_id).stem}_keypoints.jpg"
        cv2.imwrite(str(out), picture[:, :, ::-1])
    write_submission(options.output / "keypoints.csv", rows)
    # which rows are in the upright frame (the submission tool refuses them): file -> orientation
    write_json(options.output / TURNED_FILE, turned, indent=1)
    return {"done": len(rows), "skipped": skipped}
