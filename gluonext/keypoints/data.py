"""FashionAI garment keypoints: ``Images/<category>/*.jpg`` and the 26-column CSV.

Each row is ``image_id,image_category`` and 24 cells ``x_y_v`` (v 1 visible, 0 occluded with
a position, -1 absent). ``--category blouse|outwear|dress|skirt|trousers`` keeps that
category's rows and keypoints (one model per category, as the FashionAI keypoint project
did); ``all`` keeps every row with all 24 keypoints, and a keypoint the row's category lacks
gets weight 0 so the loss ignores it. The "person box" of GluonCV's pose recipe is the whole
image: FashionAI photos show one garment filling the frame, and the same box exists at test
time without a detector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mxnet import gluon

from gluonext.common.images import read_rgb
from gluonext.common.splits import split_by_image
from gluonext.errors import DatasetError
from gluonext.formats.fashionai import (
    CATEGORIES,
    FASHIONAI_CATEGORY_KEYPOINTS,
    FASHIONAI_KEYPOINTS,
    KeypointRow,
    flip_pairs,
    joint_names,
    read_keypoint_csv,
)


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


def fashionai_splits(
    root, category: str = "all", train_csv=None, val_csv=None, val_ratio: float = 0.1,
    seed: int = 0, skip_bad: bool = False,
) -> tuple[FashionAIKeypoints, FashionAIKeypoints, dict]:  # fmt: skip
    """(train, val, skipped row counts by reason): ``train_csv`` (default
    ``<root>/Annotations/train.csv``) split by image with ``val_ratio`` held out (seeded), or
    ``val_csv`` as the validation rows; the two must not share an image."""
    root = Path(root)
    wanted = CATEGORIES if category == "all" else (category,)
    rows, skipped = read_keypoint_csv(
        train_csv or root / "Annotations" / "train.csv", root, wanted, skip_bad
    )
    if val_csv:
        val_rows, val_skipped = read_keypoint_csv(val_csv, root, wanted, skip_bad)
        skipped.update(val_skipped)
    else:
        keep = set(split_by_image([r.image_id for r in rows], 1.0 - val_ratio, seed)[0])
        rows, val_rows = (
            [r for r in rows if r.image_id in keep],
            [r for r in rows if r.image_id not in keep],
        )
    shared = sorted({r.image_id for r in rows} & {r.image_id for r in val_rows})
    if shared:
        raise DatasetError(
            f"{val_csv}: {len(shared)} validation image(s) are also in the training CSV "
            f"(first: {shared[0]}); use a disjoint split"
        )
    train = FashionAIKeypoints(root, rows, category)
    val = FashionAIKeypoints(root, val_rows, category)
    if not len(train):
        raise DatasetError(f"no {category} rows to train on in {root}")
    return train, val, skipped
