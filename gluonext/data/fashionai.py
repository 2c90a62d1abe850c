"""FashionAI garment keypoints: ``Images/<category>/*.jpg`` and the 26-column CSV.

Each row is ``image_id,image_category`` and 24 cells ``x_y_v`` (v 1 visible, 0 occluded with
a position, -1 absent). ``--category blouse|outwear|dress|skirt|trousers`` keeps that
category's rows and keypoints (one model per category, seed 004's way); ``all`` keeps every
row with all 24 keypoints, and a keypoint the row's category lacks gets weight 0 so the loss
ignores it. The "person box" of GluonCV's pose recipe is the whole image: FashionAI photos
show one garment filling the frame, and the same box exists at test time without a detector.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mxnet import gluon

from ..synth import FASHIONAI_CATEGORY_KEYPOINTS, FASHIONAI_KEYPOINTS
from .segmentation import DatasetError
from .transforms import read_rgb

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
    from PIL import Image

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
    try:
        width, height = image_size(path)
    except OSError as exc:
        return None, f"{image_id}: image not readable ({exc})"
    present = points[:, 2] >= 0
    xs, ys = points[present, 0], points[present, 1]
    outside = (xs < 0) | (xs >= width) | (ys < 0) | (ys >= height)
    if outside.any():
        name = np.array(FASHIONAI_KEYPOINTS)[present][outside][0]
        return None, f"{image_id}: {name} lies outside the {width}x{height} image"
    return KeypointRow(image_id, category, points, line), ""


def _reason_kind(reason: str) -> str:
    for kind in ("columns", "unknown category", "not x_y_v", "visibility", "no such keypoint",
                 "not found", "not readable", "outside"):  # fmt: skip
        if kind in reason:
            return kind
    return "malformed cell"


def read_keypoint_csv(
    path, root, categories=CATEGORIES, skip_bad: bool = False
) -> tuple[list[KeypointRow], Counter]:
    """Rows of a FashionAI annotation CSV whose category is in ``categories``; images are
    resolved under ``root``. A bad row (wrong column count, unknown category, a cell that is
    not ``x_y_v`` or has v outside -1/0/1, a keypoint outside the image or not of the
    category, a missing image) raises ``DatasetError`` naming the row, or with ``skip_bad`` is
    left out and counted by reason (the returned Counter)."""
    path, root = Path(path), Path(root)
    if not path.is_file():
        raise DatasetError(f"{path}: annotation CSV not found")
    rows, skipped = [], Counter()
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
            if record is None:
                if not skip_bad:
                    raise DatasetError(f"{path} row {line}: {reason} (--skip-bad leaves it out)")
                skipped[_reason_kind(reason)] += 1
                continue
            rows.append(record)
    return rows, skipped


class FashionAIKeypoints(gluon.data.Dataset):
    """FashionAI rows for ``category`` (one category or ``all``).

    ``load(index)`` gives (RGB image, (J, 3) joints x, y, v, (J,) weight): J is the category's
    keypoint count (24 for ``all``); weight 1 where the keypoint has a position (v 0 or 1)
    and belongs to the row's category. Items are that, or ``transform_fn(image, joints,
    weight, rng)`` with ``rng`` seeded by ``(index, seed)`` keys.
    """

    def __init__(self, root, rows: list[KeypointRow], category: str = "all"):
        self.root, self.category = Path(root), category
        self.names = joint_names(category)
        self.columns = [FASHIONAI_KEYPOINTS.index(n) for n in self.names]
        self.pairs = flip_pairs(self.names)
        self.rows = [r for r in rows if category == "all" or r.category == category]
        self.transform_fn = None

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def __len__(self) -> int:
        return len(self.rows)

    def joints(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        row = self.rows[index]
        joints = row.points[self.columns].copy()
        own = set(FASHIONAI_CATEGORY_KEYPOINTS[row.category])
        weight = np.array(
            [float(n in own and v >= 0) for n, v in zip(self.names, joints[:, 2], strict=True)],
            np.float32,
        )
        return joints, weight

    def load(self, index: int):
        row = self.rows[index]
        try:
            image = read_rgb(self.root / row.image_id)
        except OSError as exc:
            raise DatasetError(str(exc)) from None
        return (image, *self.joints(index))

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, joints, weight = self.load(index)
        if self.transform_fn is None:
            return image, joints, weight
        return self.transform_fn(image, joints, weight, np.random.RandomState(seed))
