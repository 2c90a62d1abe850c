"""FashionAI submission CSVs: predictions to the 26 columns, and per-category result files
merged by ``image_id`` (the FashionAI keypoint project merged by row position, which breaks
silently when the files' orders differ)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from gluonext.common.files import atomic_open
from gluonext.errors import DatasetError
from gluonext.formats.fashionai import CATEGORIES, FASHIONAI_CATEGORY_KEYPOINTS, FASHIONAI_KEYPOINTS

HEADER = ["image_id", "image_category", *FASHIONAI_KEYPOINTS]


ABSENT = "-1_-1_-1"
TURNED_FILE = "exif_turned.json"  # beside keypoints.csv: images predicted turned upright


def submission_row(image_id: str, category: str, points: np.ndarray) -> list[str]:
    """One 26-column row: the category's keypoints as integer ``x_y_1``, others absent.
    ``points`` is (24, 2) in the CSV's keypoint order."""
    own = set(FASHIONAI_CATEGORY_KEYPOINTS[category])
    cells = [
        f"{int(round(float(x)))}_{int(round(float(y)))}_1" if name in own else ABSENT
        for name, (x, y) in zip(FASHIONAI_KEYPOINTS, points, strict=True)
    ]
    return [image_id, category, *cells]


def write_submission(path, rows: list[list[str]]) -> None:
    """The header and ``rows``, written atomically."""
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def check_stored_frame(path: Path) -> None:
    """Refuse a result file whose predictions were made on photos turned upright by their EXIF
    orientation (``TURNED_FILE`` beside it lists them): FashionAI scores the stored frame."""
    turned_file = path.parent / TURNED_FILE
    if not turned_file.is_file():
        return
    try:
        turned = json.loads(turned_file.read_text(encoding="utf-8"))
    except ValueError:
        raise DatasetError(f"{turned_file}: not JSON") from None
    if turned:
        name = sorted(turned)[0]
        raise DatasetError(
            f"{path}: {name} (and {len(turned) - 1} more) was predicted turned upright by its "
            f"EXIF orientation {turned[name]}, but FashionAI scores the stored frame (run "
            "tools/predict_keypoints.py with --ignore-exif)"
        )


def read_results(path) -> dict[str, list[str]]:
    """image_id -> row of a 26-column result file; a malformed file or a repeated image names
    the file and row."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: result file not found")
    check_stored_frame(path)
    rows: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        if [h.strip() for h in next(reader, [])] != HEADER:
            raise DatasetError(f"{path}: header is not FashionAI's 26 columns")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(HEADER):
                raise DatasetError(f"{path} row {line}: {len(row)} columns, expected 26")
            if row[1] not in CATEGORIES:
                raise DatasetError(f"{path} row {line}: unknown category {row[1]!r}")
            if row[0] in rows:
                raise DatasetError(f"{path} row {line}: {row[0]} appears twice")
            rows[row[0]] = row
    return rows


def read_test_list(path) -> list[tuple[str, str]]:
    """(image_id, image_category) of a FashionAI test CSV (its first two columns)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: test CSV not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        if header[:2] != ["image_id", "image_category"]:
            raise DatasetError(f"{path}: first columns must be image_id,image_category")
        items = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 2 or row[1].strip() not in CATEGORIES:
                raise DatasetError(f"{path} row {line}: no known image_category")
            items.append((row[0].strip(), row[1].strip()))
    return items


def merge_results(paths, order: list[tuple[str, str]] | None = None,
                  allow_missing: bool = False) -> tuple[list[list[str]], list[str]]:  # fmt: skip
    """One submission from per-category result files, matched by ``image_id``.

    An image predicted in two files is an error naming both. With ``order`` (a test list)
    rows follow it, a category that disagrees with the test list is an error, and test images
    without a prediction are an error unless ``allow_missing`` (then they get absent cells
    and are returned as the second value)."""
    merged: dict[str, list[str]] = {}
    source: dict[str, Path] = {}
    for path in paths:
        for image_id, row in read_results(path).items():
            if image_id in merged:
                raise DatasetError(f"{image_id} is predicted in both {source[image_id]} and {path}")
            merged[image_id], source[image_id] = row, Path(path)
    if order is None:
        return [merged[k] for k in sorted(merged)], []
    rows, missing = [], []
    for image_id, category in order:
        row = merged.get(image_id)
        if row is None:
            missing.append(image_id)
            rows.append([image_id, category, *[ABSENT] * len(FASHIONAI_KEYPOINTS)])
            continue
        if row[1] != category:
            raise DatasetError(
                f"{image_id}: {source[image_id]} says {row[1]}, the test list says {category}"
            )
        rows.append(row)
    if missing and not allow_missing:
        raise DatasetError(
            f"{len(missing)} test images have no prediction (first: {', '.join(missing[:3])}); "
            "predict them or pass --allow-missing"
        )
    extra = set(merged) - {image_id for image_id, _ in order}
    if extra:
        raise DatasetError(
            f"{len(extra)} predicted images are not in the test list (first: {sorted(extra)[0]})"
        )
    return rows, missing
