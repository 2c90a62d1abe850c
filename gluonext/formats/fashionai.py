"""FashionAI garment keypoints on disk: the 24 keypoint names, each category's keypoints,
and the 26-column CSV (``image_id,image_category`` and 24 cells ``x_y_v``: v 1 visible,
0 occluded with a position, -1 absent).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gluonext.common.images import image_problem
from gluonext.errors import DatasetError

FASHIONAI_KEYPOINTS = (
    "neckline_left",
    "neckline_right",
    "center_front",
    "shoulder_left",
    "shoulder_right",
    "armpit_left",
    "armpit_right",
    "waistline_left",
    "waistline_right",
    "cuff_left_in",
    "cuff_left_out",
    "cuff_right_in",
    "cuff_right_out",
    "top_hem_left",
    "top_hem_right",
    "waistband_left",
    "waistband_right",
    "hemline_left",
    "hemline_right",
    "crotch",
    "bottom_left_in",
    "bottom_left_out",
    "bottom_right_in",
    "bottom_right_out",
)


FASHIONAI_CATEGORY_KEYPOINTS = {
    "blouse": (
        "neckline_left",
        "neckline_right",
        "center_front",
        "shoulder_left",
        "shoulder_right",
        "armpit_left",
        "armpit_right",
        "cuff_left_in",
        "cuff_left_out",
        "cuff_right_in",
        "cuff_right_out",
        "top_hem_left",
        "top_hem_right",
    ),
    "outwear": (
        "neckline_left",
        "neckline_right",
        "shoulder_left",
        "shoulder_right",
        "armpit_left",
        "armpit_right",
        "waistline_left",
        "waistline_right",
        "cuff_left_in",
        "cuff_left_out",
        "cuff_right_in",
        "cuff_right_out",
        "top_hem_left",
        "top_hem_right",
    ),
    "dress": (
        "neckline_left",
        "neckline_right",
        "center_front",
        "shoulder_left",
        "shoulder_right",
        "armpit_left",
        "armpit_right",
        "waistline_left",
        "waistline_right",
        "cuff_left_in",
        "cuff_left_out",
        "cuff_right_in",
        "cuff_right_out",
        "hemline_left",
        "hemline_right",
    ),
    "skirt": ("waistband_left", "waistband_right", "hemline_left", "hemline_right"),
    "trousers": (
        "waistband_left",
        "waistband_right",
        "crotch",
        "bottom_left_in",
        "bottom_left_out",
        "bottom_right_in",
        "bottom_right_out",
    ),
}


CATEGORIES = tuple(FASHIONAI_CATEGORY_KEYPOINTS)


# ground-truth keypoints whose distance normalises NE, per category (the competition's rule)
NORMALIZER = {
    "blouse": ("armpit_left", "armpit_right"),
    "outwear": ("armpit_left", "armpit_right"),
    "dress": ("armpit_left", "armpit_right"),
    "skirt": ("waistband_left", "waistband_right"),
    "trousers": ("waistband_left", "waistband_right"),
}


def joint_names(category: str) -> tuple[str, ...]:
    """The keypoints a model for ``category`` (or ``all``) predicts, in the CSV's order."""
    if category == "all":
        return FASHIONAI_KEYPOINTS
    if category not in FASHIONAI_CATEGORY_KEYPOINTS:
        raise DatasetError(f"--category {category!r}: choose all or one of {', '.join(CATEGORIES)}")
    return FASHIONAI_CATEGORY_KEYPOINTS[category]


def flip_pairs(names) -> list[tuple[int, int]]:
    """Left/right keypoint pairs by name (``cuff_left_in`` <-> ``cuff_right_in``)."""
    index = {name: k for k, name in enumerate(names)}
    pairs = []
    for k, name in enumerate(names):
        if "left" in name.split("_"):
            other = "_".join("right" if part == "left" else part for part in name.split("_"))
            if other in index:
                pairs.append((k, index[other]))
    return pairs


@dataclass
class KeypointRow:
    image_id: str
    category: str
    points: np.ndarray  # (24, 3) float32 x, y, v in FASHIONAI_KEYPOINTS order
    line: int  # row number in the CSV (header = 1)
    size: tuple[int, int] | None = None  # (width, height) of the image, read with the row


def _parse_cell(cell: str) -> tuple[int, int, int]:
    parts = cell.strip().split("_")
    if len(parts) != 3:
        raise ValueError(f"{cell!r} is not x_y_v")
    try:
        x, y, v = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{cell!r} is not x_y_v with integers") from None
    if v not in (-1, 0, 1):
        raise ValueError(f"{cell!r}: visibility {v} is not -1, 0 or 1")
    return x, y, v


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header (no decoding)."""

    with Image.open(path) as image:
        return image.size


def _row_problem(row: list[str], root: Path, line: int) -> tuple[KeypointRow | None, str]:
    if len(row) != 2 + len(FASHIONAI_KEYPOINTS):
        return None, f"{len(row)} columns, expected {2 + len(FASHIONAI_KEYPOINTS)}"
    image_id, category = row[0].strip(), row[1].strip()
    if category not in FASHIONAI_CATEGORY_KEYPOINTS:
        return None, f"{image_id}: unknown category {category!r}"
    points = np.full((len(FASHIONAI_KEYPOINTS), 3), -1.0, np.float32)
    for k, (name, cell) in enumerate(zip(FASHIONAI_KEYPOINTS, row[2:], strict=True)):
        try:
            points[k] = _parse_cell(cell)
        except ValueError as exc:
            return None, f"{image_id}: {name} {exc}"
        if points[k, 2] >= 0 and name not in FASHIONAI_CATEGORY_KEYPOINTS[category]:
            return None, f"{image_id}: {name} is given but {category} has no such keypoint"
    path = root / image_id
    if not path.is_file():
        return None, f"{image_id}: image not found under {root}"
    problem = image_problem(path)
    if problem:
        return None, f"{image_id}: image not readable ({problem})"
    width, height = image_size(path)
    present = points[:, 2] >= 0
    xs, ys = points[present, 0], points[present, 1]
    outside = (xs < 0) | (xs >= width) | (ys < 0) | (ys >= height)
    if outside.any():
        name = np.array(FASHIONAI_KEYPOINTS)[present][outside][0]
        return None, f"{image_id}: {name} lies outside the {width}x{height} image"
    return KeypointRow(image_id, category, points, line, (width, height)), ""


def _reason_kind(reason: str) -> str:
    for kind in ("columns", "unknown category", "not x_y_v", "visibility", "no such keypoint",
                 "not found", "not readable", "outside", "duplicate"):  # fmt: skip
        if kind in reason:
            return kind
    return "malformed cell"


def read_keypoint_csv(
    path, root, categories=CATEGORIES, skip_bad: bool = False
) -> tuple[list[KeypointRow], Counter]:
    """Rows of a FashionAI annotation CSV whose category is in ``categories``; images are
    resolved under ``root``. A bad row (wrong column count, unknown category, a cell that is
    not ``x_y_v`` or has v outside -1/0/1, a keypoint outside the image or not of the
    category, a missing or damaged image, an ``image_id`` given twice) raises ``DatasetError``
    naming the row, or with ``skip_bad`` is left out and counted by reason (the returned
    Counter)."""
    path, root = Path(path), Path(root)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation CSV not found")
    rows, skipped, first_line = [], Counter(), {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        expected = ["image_id", "image_category", *FASHIONAI_KEYPOINTS]
        if header is None or [h.strip() for h in header] != expected:
            raise DatasetError(f"{path}: header is not FashionAI's 26 columns ({expected[:3]}...)")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            category = row[1].strip() if len(row) > 1 else ""
            if category in FASHIONAI_CATEGORY_KEYPOINTS and category not in categories:
                continue
            record, reason = _row_problem(row, root, line)
            if record is not None and record.image_id in first_line:
                record, reason = (
                    None,
                    (
                        f"{record.image_id}: duplicate image_id (first on row "
                        f"{first_line[record.image_id]})"
                    ),
                )
            if record is None:
                if not skip_bad:
                    raise DatasetError(f"{path} row {line}: {reason} (--skip-bad leaves it out)")
                skipped[_reason_kind(reason)] += 1
                continue
            first_line[record.image_id] = line
            rows.append(record)
    return rows, skipped
