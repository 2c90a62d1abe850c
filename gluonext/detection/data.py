"""Box datasets for the detection recipes: LabelImg folders, COCO boxes and mixup.

Labels follow GluonCV's ``VOCDetection``: ``[xmin, ymin, xmax, ymax, class, difficult]``
with the XML's 1-based pixel numbers made 0-based. Items may be indexed by
``(index, seed)`` pairs so augmentation is reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mxnet import gluon

from gluonext.common.images import read_rgb
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import class_counts
from gluonext.formats.voc_layout import VOCPart, scan_parts


class BoxItems(gluon.data.Dataset):
    """Shared item logic of the box datasets: ``load(index)`` gives (image, (N, 6) label);
    items are that or ``transform_fn(image, label, rng)``, seeded by ``(index, seed)`` keys."""

    CLASSES: tuple[str, ...] = ()
    transform_fn = None

    @property
    def num_class(self) -> int:
        return len(self.CLASSES)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, key):
        index, seed, *shape = key if isinstance(key, tuple) else (key, None)
        image, label = self.load(index)
        if self.transform_fn is None:
            return image, label
        # a key's third entry (YOLOv3's random shapes) is the batch's input side
        return self.transform_fn(image, label, np.random.RandomState(seed), *shape)


class VOCFolderDetection(BoxItems):
    """Images and boxes of Pascal VOC XML: a folder (optionally only the stems in ``names``)
    or the ``parts`` of a layout (``gluonext.formats.voc_layout``).

    Items: ``(H x W x 3 uint8 image, (N, 6) float32 label)`` or, with ``transform``,
    ``transform(image, label, rng)`` (``rng`` seeded per item by ``(index, seed)`` keys).
    Training sets (``skip_empty``) leave out images without objects.
    """

    def __init__(
        self,
        folder=None,
        classes: list[str] | None = None,
        names: list[str] | None = None,
        skip_bad: bool = False,
        skip_empty: bool = True,
        transform=None,
        parts: list[VOCPart] | None = None,
        scanned: tuple | None = None,
    ):
        if parts is None:
            parts = [VOCPart(Path(folder), None, None if names is None else tuple(names))]
        records, self.report = scanned or scan_parts(parts, classes, skip_bad)
        if skip_empty:
            records = [r for r in records if r.objects]
        self.CLASSES = (
            tuple(classes) if classes is not None else tuple(sorted(class_counts(records)))
        )
        self.index_of = {name: k for k, name in enumerate(self.CLASSES)}
        self.records, self.transform_fn = records, transform

    def __len__(self) -> int:
        return len(self.records)

    def label(self, index: int) -> np.ndarray:
        objects = self.records[index].objects
        label = np.zeros((len(objects), 6), dtype=np.float32)
        for row, obj in enumerate(objects):
            x1, y1, x2, y2 = obj.box
            label[row] = (x1 - 1, y1 - 1, x2 - 1, y2 - 1, self.index_of[obj.name], obj.difficult)
        return label

    def size(self, index: int) -> tuple[int, int]:
        """(height, width) of image ``index`` from its XML, without reading the image."""
        record = self.records[index]
        return record.height, record.width

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        record = self.records[index]
        try:
            image = read_rgb(record.image)
        except OSError as exc:
            raise DatasetError(str(exc)) from None
        if image.shape[:2] != (record.height, record.width):
            raise DatasetError(
                f"{record.image}: image is {image.shape[1]}x{image.shape[0]} (WxH) but "
                f"{record.xml.name} says {record.width}x{record.height}"
            )
        return image, self.label(index)


def voc_splits(train_parts, val_parts, classes=None, skip_bad: bool = False):
    """(train, val) datasets of a VOC layout's parts (``voc_layout.voc_parts``). Without
    ``classes`` they are discovered from both splits, so a class seen only in validation is
    known."""
    train_scan = scan_parts(train_parts, classes, skip_bad)
    val_scan = scan_parts(val_parts, classes, skip_bad)
    if classes is None:
        classes = sorted(class_counts(train_scan[0] + val_scan[0]))
    train = VOCFolderDetection(classes=classes, parts=train_parts, scanned=train_scan)
    val = VOCFolderDetection(classes=classes, skip_empty=False, parts=val_parts,
                             scanned=val_scan)  # fmt: skip
    return train, val


class COCOBoxes(BoxItems):
    """Boxes of a COCO instances file (e.g. the converter's iMaterialist JSON) with the same item
    contract as ``VOCFolderDetection``: labels ``(N, 6)`` with continuous COCO corners and
    difficult 0."""

    def __init__(self, instances, transform=None):
        self.instances, self.transform_fn = instances, transform
        self.CLASSES = instances.CLASSES

    def __len__(self) -> int:
        return len(self.instances)

    def size(self, index: int) -> tuple[int, int]:
        return self.instances.size(index)

    def label(self, index: int) -> np.ndarray:
        label = self.instances.label(index)
        return np.concatenate([label, np.zeros((len(label), 1), np.float32)], axis=1)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image, _, _ = self.instances.load(index)
        return image, self.label(index)


class MixupBoxes(BoxItems):
    """GluonCV's detection mixup (``MixupDetection``), seeded per item: with probability given
    by ``Beta(alpha, alpha)`` weights an image is blended with another random image of the
    dataset on a canvas holding both; labels gain a last column with each box's weight (1.0
    when not mixed, and for every item while ``enabled`` is False, GluonCV's late epochs)."""

    def __init__(self, dataset: BoxItems, alpha: float = 1.5):
        self.dataset, self.alpha, self.enabled = dataset, alpha, True
        self.CLASSES = dataset.CLASSES

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        index, seed, *shape = key if isinstance(key, tuple) else (key, None)
        rng = np.random.RandomState(seed)
        image, label = self.dataset.load(index)
        lam = float(np.clip(rng.beta(self.alpha, self.alpha), 0, 1)) if self.enabled else 1.0
        if lam >= 1 or len(self) < 2:
            label = np.hstack([label, np.ones((len(label), 1), np.float32)])
        else:
            other = int(rng.randint(len(self) - 1))
            other += other >= index  # any item but this one
            image2, label2 = self.dataset.load(other)
            height = max(image.shape[0], image2.shape[0])
            width = max(image.shape[1], image2.shape[1])
            canvas = np.zeros((height, width, 3), np.float32)
            canvas[: image.shape[0], : image.shape[1]] = image * lam
            canvas[: image2.shape[0], : image2.shape[1]] += image2 * (1 - lam)
            image = canvas.astype(np.uint8)
            label = np.vstack(
                [
                    np.hstack([label, np.full((len(label), 1), lam, np.float32)]),
                    np.hstack([label2, np.full((len(label2), 1), 1 - lam, np.float32)]),
                ]
            )
        if self.transform_fn is None:
            return image, label
        return self.transform_fn(image, label, rng, *shape)


def run_datasets(args, coco_reader, classes=None):
    """(train, val, VOC parts) of a train_detection.py run, from its flags or a checkpoint's
    ``meta["args"]``: a VOC layout (``voc_layout.voc_parts``) or, with ``--dataset coco``, the
    COCO JSON read by ``coco_reader(root, split, categories, skip_bad=...)`` (the instance
    task's ``InstanceDataset``) as boxes. ``classes`` overrides ``--classes`` (a model's own
    order)."""
    if args.dataset == "coco":
        from gluonext.formats.coco import check_split_pair

        train = coco_reader(args.data_root, "train", args.categories, skip_bad=args.skip_bad)
        val = coco_reader(args.data_root, "val", args.categories, skip_bad=args.skip_bad)
        check_split_pair(train, val)
        return COCOBoxes(train), COCOBoxes(val), []
    from gluonext.formats.labelimg import read_class_list
    from gluonext.formats.voc_layout import voc_parts

    train_parts, val_parts = voc_parts(
        args.data_root, args.train_list, args.val_list, args.val_root, args.image_dir,
        args.train_splits, args.val_splits)  # fmt: skip
    classes = classes or read_class_list(args.classes)
    return (*voc_splits(train_parts, val_parts, classes, args.skip_bad), train_parts + val_parts)
