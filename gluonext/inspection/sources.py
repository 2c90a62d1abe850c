"""Every dataset the training scripts read, opened with the scripts' own dataset classes, and
one annotation-level view of each image for the inspector (no pixels read).

``open_splits`` gives the (train, val) datasets as the training script would build them (with
bad items left out and counted instead of stopping); ``items`` lists each image's file, the
size its annotation states and its objects (class and area in pixels); ``draw`` renders an
image with its annotations as the dataset's ``load`` gives them to training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gluonext.common.drawing import draw_instances, draw_keypoints, overlay, palette_for
from gluonext.errors import DatasetError

DATASETS = ("voc", "coco", "imaterialist", "imaterialist_parts", "imaterialist_binary",
            "clothing13", "folder", "fashionai")  # fmt: skip


@dataclass
class Item:
    """One image: its file, the (height, width) its annotation states (None when the format
    keeps no size) and its objects as (class, area in pixels)."""

    image: Path
    size: tuple[int, int] | None
    objects: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Splits:
    """The (train, val) datasets of one ``--dataset``, what was left out and why."""

    kind: str  # boxes, instances, parsing or keypoints
    train: object
    val: object
    left_out: dict = field(default_factory=dict)  # "split: reason" -> count


def open_splits(dataset: str, data_root, **options) -> Splits:
    """The training script's (train, val) datasets for ``dataset`` (``DATASETS``); options are
    the scripts' data flags: image_dir, val_root, train_list, val_list, train_splits,
    val_splits (voc); categories, train_json, val_json (coco, a LabelMe folder too); image_dir,
    mask_dir, classes, ignore_value (folder); category, train_csv, val_csv, val_ratio, seed
    (fashionai)."""
    if dataset == "voc":
        from gluonext.detection.data import voc_splits
        from gluonext.formats.voc_layout import voc_parts

        parts = voc_parts(data_root, options.get("train_list"), options.get("val_list"),
                          options.get("val_root"), options.get("image_dir"),
                          options.get("train_splits"), options.get("val_splits"))  # fmt: skip
        train, val = voc_splits(*parts, None, skip_bad=True)
        left = {}
        for name, split in (("train", train), ("val", val)):
            for path, reason in split.report.skipped_files:
                left[f"{name}: {Path(path).name}: {reason}"] = 1
            for reason, count in split.report.skipped_objects.items():
                left[f"{name}: objects left out ({reason})"] = count
        return Splits("boxes", train, val, left)
    if dataset == "coco":
        from gluonext.instance.data import InstanceDataset

        common = {"categories": options.get("categories") or "all", "skip_bad": True,
                  "image_dir": options.get("image_dir"), "skip_empty": False}  # fmt: skip
        train = InstanceDataset(data_root, "train", annotation_file=options.get("train_json"),
                                **common)  # fmt: skip
        val = InstanceDataset(data_root, "val", annotation_file=options.get("val_json"), **common)
        return Splits("instances", train, val, _left_out(train, val))
    if dataset == "fashionai":
        from gluonext.keypoints.data import fashionai_splits

        train, val, skipped = fashionai_splits(
            data_root, options.get("category") or "all", options.get("train_csv"),
            options.get("val_csv"), options.get("val_ratio", 0.1), options.get("seed", 0),
            skip_bad=True)  # fmt: skip
        return Splits("keypoints", train, val, {f"rows: {k}": n for k, n in skipped.items()})
    if dataset in DATASETS:
        from gluonext.segmentation.data import get_segmentation_dataset

        kwargs = {"skip_bad": True, "seed": options.get("seed", 0)}
        if dataset == "folder":
            kwargs.update({k: options.get(k) for k in ("image_dir", "mask_dir", "classes")})
            kwargs["ignore_value"] = options.get("ignore_value", 255)
        train = get_segmentation_dataset(dataset, data_root, "train", "testval", **kwargs)
        val = get_segmentation_dataset(dataset, data_root, "val", "testval", **kwargs)
        return Splits("parsing", train, val, _left_out(train, val))
    raise DatasetError(f"--dataset {dataset!r}: choose from {', '.join(DATASETS)}")


def _left_out(train, val) -> dict:
    left = {}
    for name, split in (("train", train), ("val", val)):
        for counter in (getattr(split, "skipped", {}), getattr(split, "invalid", {})):
            for reason, count in counter.items():
                left[f"{name}: {reason}"] = count
    return left


def items(kind: str, dataset) -> list[Item]:
    """The annotation-level view of every image of ``dataset`` (see ``Item``)."""
    found = []
    for index in range(len(dataset)):
        if kind == "boxes":
            record = dataset.records[index]
            objects = [(o.name, max(0.0, (o.box[2] - o.box[0]) * (o.box[3] - o.box[1])))
                       for o in record.objects]  # fmt: skip
            found.append(Item(record.image, (record.height, record.width), objects))
        elif kind == "instances":
            objects = [(dataset.CLASSES[dataset.label_of[a["category_id"]]], float(a["area"]))
                       for a in dataset.annotations[index]]  # fmt: skip
            found.append(Item(dataset.image_path(index), dataset.size(index), objects))
        elif kind == "parsing":
            label = dataset.label(index)
            classes, counts = np.unique(label[label >= 0], return_counts=True)
            objects = [(dataset.CLASSES[c], float(n)) for c, n in zip(classes, counts, strict=True)
                       if c != 0]  # fmt: skip  # class 0 is background
            found.append(Item(dataset.image_path(index), label.shape, objects))
        else:  # keypoints: the garment, sized by the box around its visible keypoints
            row = dataset.rows[index]
            seen = row.points[row.points[:, 2] >= 0][:, :2]
            extent = np.ptp(seen, axis=0) if len(seen) else np.zeros(2)
            found.append(Item(dataset.root / row.image_id, None,
                              [(row.category, float(extent[0] * extent[1]))]))  # fmt: skip
    return found


def draw(kind: str, dataset, index: int) -> np.ndarray:
    """Image ``index`` with its annotations drawn as the dataset's ``load`` gives them."""
    if kind == "boxes":
        image, label = dataset.load(index)
        ids = label[:, 4].astype(int)
        return draw_instances(image, label[:, :4], ids, None, dataset.CLASSES)
    if kind == "instances":
        from gluonext.formats.coco import decode_masks

        image, label, segmentations = dataset.load(index)
        masks = decode_masks(segmentations, *image.shape[:2])
        ids = label[:, 4].astype(int)
        return draw_instances(image, label[:, :4], ids, None, dataset.CLASSES, masks)
    if kind == "parsing":
        image, label = dataset.load(index)
        palette = palette_for(len(dataset.CLASSES), getattr(dataset, "label_mode", None))
        return overlay(image, np.where(label < 0, 0, label), palette)
    image, joints, weight = dataset.load(index)
    points = np.where(weight[:, None] > 0, joints[:, :2], -1)
    return draw_keypoints(image, points, dataset.names, dataset.pairs)
