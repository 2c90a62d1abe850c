"""Which garments a picture shows: multi-label targets from an iMaterialist-format folder.

The pretraining task of ``tools/pretrain_backbone.py``: for every image of ``train.csv``, a
0/1 vector over the 13 main apparel categories (shirt ... cape) saying which it shows. The
images are squashed to a square input and normalised as GluonCV's ImageNet models expect;
training items are flipped at random (seeded per item).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from mxnet import gluon

from gluonext.common.images import normalize, read_rgb
from gluonext.errors import DatasetError
from gluonext.formats.imaterialist import MAIN_CATEGORY_IDS, parse_class_id
from gluonext.formats.imaterialist_coco import image_file_name

# the sample generator's picture stream for pretraining pictures (tools/make_sample_data.py
# --stream): no dataset made in the default stream 0 shares a picture with it, so a backbone
# pretrained on these has never seen a task's held-out images
PRETRAINING_STREAM = 1


def read_garment_labels(root: Path) -> tuple[list[str], np.ndarray]:
    """(image file names, (N, 13) float32 0/1) from ``root/train.csv``, images sorted."""
    path = Path(root) / "train.csv"
    if not path.is_file():
        raise DatasetError(f"{path}: not found (an iMaterialist-format folder is needed)")
    shown: dict[str, set] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                category, _ = parse_class_id(row["ClassId"])
            except (KeyError, ValueError) as exc:
                raise DatasetError(f"{path} line {line}: {exc}") from None
            garments = shown.setdefault(image_file_name(row["ImageId"]), set())
            if category in MAIN_CATEGORY_IDS:
                garments.add(category)
    names = sorted(shown)
    labels = np.zeros((len(names), len(MAIN_CATEGORY_IDS)), np.float32)
    for row, name in enumerate(names):
        labels[row, sorted(shown[name])] = 1
    return names, labels


# decoded, resized pictures kept in memory across epochs up to this many bytes (8,000 pictures
# at 96 px take 221 MB; decoding them again each epoch cost a fifth of a MobileNet0.25's time)
CACHE_BYTES = 2**30


class GarmentLabels(gluon.data.Dataset):
    """(C x S x S normalised image, 13 labels); ``train`` adds a seeded random flip. Each
    picture is decoded and resized once and kept (within ``CACHE_BYTES``)."""

    def __init__(self, image_dir: Path, names, labels, size: int, train: bool, seed: int = 0):
        self.image_dir, self.names, self.labels = Path(image_dir), list(names), labels
        self.size, self.train, self.seed = size, train, seed
        self.cache = {} if len(self.names) * size * size * 3 <= CACHE_BYTES else None

    def __len__(self) -> int:
        return len(self.names)

    def picture(self, index: int) -> np.ndarray:
        """Picture ``index`` decoded and resized to S x S (from the cache after the first)."""
        if self.cache is not None and index in self.cache:
            return self.cache[index]
        try:
            image = read_rgb(self.image_dir / self.names[index])
        except OSError as exc:
            raise DatasetError(str(exc)) from None
        image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.cache is not None:
            self.cache[index] = image
        return image

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, self.seed + key)
        image = self.picture(index)
        if self.train and np.random.RandomState(seed).rand() < 0.5:
            image = image[:, ::-1]
        return normalize(np.ascontiguousarray(image)), self.labels[index]
