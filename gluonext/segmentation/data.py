"""Semantic segmentation datasets: iMaterialist (from the converter's COCO JSON), any COCO
JSON with its own categories, clothing13, and a folder of images and mask PNGs with a classes
file (LIP, CIHP, VOC ``SegmentationClass``, in-house labels).

Both follow GluonCV's ``SegmentationDataset`` contract: ``NUM_CLASS``, ``CLASSES``,
``pred_offset``; items are (C x H x W float32 normalised image, H x W int32 mask) with -1 as
the ignore label. Items may be indexed by ``(index, seed)`` pairs (see
``gluonext.engine.devices.SeededBatchSampler``) so augmentation is reproducible.

Modes: ``train`` (GluonCV's augmentation), ``val`` (short side to crop size, centre crop) and
``testval`` (the whole image at its own size, for evaluation at original resolution).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
from mxnet import gluon

from gluonext.common.drawing import palette_for
from gluonext.common.images import normalize, read_rgb, screen_images
from gluonext.errors import DatasetError
from gluonext.formats import clothing13
from gluonext.formats.coco import (
    annotations_by_image,
    check_split_pair,
    conversion_id,
    image_dir_of,
    read_instances,
    to_rles,
    usable_images,
)
from gluonext.formats.imaterialist import BODY_PARTS, MAIN_CATEGORY_IDS
from gluonext.segmentation.presets import IGNORE_LABEL, seg_train_transform, seg_val_transform

CLOTHING13_CLASSES = clothing13.CLASSES


LABEL_MODES = ("main", "parts", "binary", "all")  # all: every category of the file, a class


DATASETS = ("imaterialist", "imaterialist_parts", "imaterialist_binary", "clothing13", "coco",
            "folder")  # fmt: skip


class SegmentationBase(gluon.data.Dataset):
    """Shared item logic: load (image, label) by index, transform, normalise."""

    CLASSES: tuple[str, ...] = ()

    def __init__(
        self,
        mode: str,
        base_size: int,
        crop_size: int,
        scale_range: tuple[float, float] = (0.5, 2.0),
    ):
        if mode not in ("train", "val", "testval"):
            raise ValueError(f"mode must be train, val or testval, got {mode!r}")
        self.mode, self.base_size, self.crop_size = mode, base_size, crop_size
        self.scale_range = tuple(scale_range)

    @property
    def NUM_CLASS(self) -> int:  # noqa: N802 - GluonCV's name
        return len(self.CLASSES)

    num_class = NUM_CLASS
    pred_offset = 0

    SIZE_HINT = ""  # what to do when an image and its label disagree in size

    def image_path(self, index: int) -> Path:
        raise NotImplementedError

    def label(self, index: int) -> np.ndarray:
        """The H x W class map of item ``index`` (-1 = ignore), before any transform."""
        raise NotImplementedError

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H x W x 3 uint8 RGB image, H x W label); sizes must agree."""
        try:
            image = read_rgb(self.image_path(index))
        except OSError as exc:
            raise DatasetError(str(exc)) from None
        label = self.label(index)
        if image.shape[:2] != label.shape:
            raise DatasetError(
                f"{self.image_path(index)}: image is {image.shape[0]}x{image.shape[1]} but "
                f"its annotation says {label.shape[0]}x{label.shape[1]}{self.SIZE_HINT}"
            )
        return image, label

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, label = self.load(index)
        if self.mode == "train":
            image, label = seg_train_transform(
                image,
                label,
                np.random.RandomState(seed),
                self.base_size,
                self.crop_size,
                self.scale_range,
            )
        elif self.mode == "val":
            image, label = seg_val_transform(image, label, self.crop_size)
        return normalize(image), label.astype(np.int32, copy=False)


class IMaterialistSegmentation(SegmentationBase):
    """iMaterialist images with masks painted from the COCO JSON's RLE at load time.

    ``label_mode``: ``main`` (background + the 13 main apparel, 14 classes, as the iMaterialist
    DeepLabV3 project), ``parts`` (background + upper / lower / whole body by official
    supercategory, the body-parts parsing project's merge), ``binary`` (garment /
    background); only the 13 main apparel categories are painted there, garment parts and
    accessories stay background. ``all`` (``--dataset coco``: any COCO JSON, CVAT's, Roboflow's,
    ModaNet's or DeepFashion2's converted) makes every category of the file a class, after
    background, in the file's order. Overlaps: instances are painted from the largest area to
    the smallest, so a small garment lying on a large one stays visible, or with ``overlap``
    ``order`` in the categories' order (later ones on top).
    """

    SIZE_HINT = "; convert with --check-images"

    def __init__(
        self,
        root,
        split: str = "train",
        mode: str | None = None,
        label_mode: str = "main",
        base_size: int = 520,
        crop_size: int = 480,
        annotation_file: str | None = None,
        scale_range: tuple[float, float] = (0.5, 2.0),
        skip_bad: bool = False,
        image_dir=None,
        overlap: str = "area",
    ):
        super().__init__(mode or split, base_size, crop_size, scale_range)
        if overlap not in ("area", "order"):
            raise DatasetError(f"--overlap {overlap!r}: choose area or order")
        if label_mode not in LABEL_MODES:
            raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
        self.root = Path(root)
        path = Path(annotation_file or self.root / "annotations" / f"instances_{split}.json")
        self.annotation_file = path
        payload = read_instances(path, self.root)
        self.conversion_id = conversion_id(payload)
        self.image_dir = Path(image_dir) if image_dir else image_dir_of(payload, self.root)
        self.label_mode = label_mode
        self.class_of, self.CLASSES = _label_map(label_mode, payload["categories"])
        # images left out by reason (--skip-bad)
        images, self.skipped, self.image_files = usable_images(
            payload, path, self.image_dir, skip_bad
        )
        by_image, self.invalid = annotations_by_image(payload, images, self.class_of)
        self.images = sorted(images, key=lambda image: image["id"])
        # painted from the largest area to the smallest: small garments on large ones stay
        # (or, with overlap "order", in the categories' order: later categories on top)
        order = (lambda a: -a[0]) if overlap == "area" else (lambda a: a[1])
        self.annotations = [
            sorted(
                (
                    (a["area"], self.class_of[a["category_id"]], a["segmentation"])
                    for a in by_image[image["id"]]
                ),
                key=order,
            )  # fmt: skip
            for image in self.images
        ]

    def summary(self) -> str:
        """One line: images and what was left out."""
        parts = [f"{len(self)} images"]
        parts += [f"{n} images skipped ({why})" for why, n in sorted(self.skipped.items())]
        parts += [f"{n} annotations left out ({why})" for why, n in sorted(self.invalid.items())]
        return "; ".join(parts)

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, index: int) -> Path:
        return self.image_dir / self.images[index]["file_name"]

    def label(self, index: int) -> np.ndarray:
        """The H x W uint8 class map of image ``index`` (no transform)."""
        info = self.images[index]
        # painted in the masks' own (column-major) order, then made row-major once
        label = np.zeros((info["height"], info["width"]), dtype=np.uint8, order="F")
        annotations = self.annotations[index]
        if annotations:
            segs = [seg for _area, _cls, seg in annotations]
            masks = mask_util.decode(to_rles(segs, info["height"], info["width"]))
            for k, (_area, cls, _seg) in enumerate(annotations):
                np.copyto(label, np.uint8(cls), where=masks[:, :, k].view(bool))
        return np.ascontiguousarray(label)


def _label_map(label_mode: str, categories: list) -> tuple[dict, tuple]:
    """Category id -> class index, and the class names, of ``label_mode``."""
    supercategory = {c["id"]: c.get("supercategory", "") for c in categories}
    names = {c["id"]: c["name"] for c in categories}
    if label_mode == "all":  # any COCO file: its categories in the file's order after background
        ids = [c["id"] for c in categories]
        return {c: k + 1 for k, c in enumerate(ids)}, ("background", *(names[c] for c in ids))
    if label_mode == "main":
        class_of = {c: i + 1 for i, c in enumerate(MAIN_CATEGORY_IDS)}
        return class_of, ("background", *(names.get(c, str(c)) for c in MAIN_CATEGORY_IDS))
    if label_mode == "parts":
        class_of = {
            c: BODY_PARTS[supercategory[c]]
            for c in MAIN_CATEGORY_IDS
            if supercategory.get(c) in BODY_PARTS
        }
        return class_of, ("background", "upper body", "lower body", "whole body")
    return {c: 1 for c in MAIN_CATEGORY_IDS}, ("background", "garment")


def seeded_share(items: list, split: str, val_fraction: float, seed: int) -> list:
    """``split``'s share of ``items`` (one flat folder): a seeded ``val_fraction`` (at least
    one) for val, the rest for train, each in the items' order."""
    order = np.random.RandomState(seed).permutation(len(items))
    n_val = max(1, int(round(len(items) * val_fraction)))
    chosen = order[:n_val] if split == "val" else order[n_val:]
    return [items[i] for i in sorted(chosen)]


def usable_pairs(pairs: list, skip_bad: bool) -> tuple[list, Counter]:
    """The (image, mask) pairs whose two files pass ``screen_images``, and the files left out
    by reason (an error instead, unless ``skip_bad``)."""
    entries = [(path, None) for pair in pairs for path in pair]
    kept, skipped = screen_images(entries, skip_bad, progress=len(entries) > 4000)
    usable = set(kept)
    return [pair for k, pair in enumerate(pairs) if {2 * k, 2 * k + 1} <= usable], skipped


class Clothing13Segmentation(SegmentationBase):
    """clothing13: ``<id>.jpg`` photos with ``<id>.png`` index masks (255 = ignore).

    Uses ``train/`` and ``val/`` subfolders when the root has them, otherwise a seeded split of
    the flat folder holding ``val_fraction`` of the pairs out for validation.
    """

    CLASSES = CLOTHING13_CLASSES

    def __init__(
        self,
        root,
        split: str = "train",
        mode: str | None = None,
        base_size: int = 520,
        crop_size: int = 480,
        val_fraction: float = 0.1,
        seed: int = 0,
        scale_range: tuple[float, float] = (0.5, 2.0),
        skip_bad: bool = False,
    ):
        super().__init__(mode or split, base_size, crop_size, scale_range)
        root = Path(root)
        folder = root / split if (root / "train").is_dir() and (root / "val").is_dir() else root
        if not folder.is_dir():
            raise DatasetError(f"{folder}: folder not found")
        stems = sorted(p.stem for p in folder.glob("*.png") if (folder / f"{p.stem}.jpg").is_file())
        if not stems:
            raise DatasetError(f"{folder}: no <id>.jpg / <id>.png pairs")
        if folder == root:
            stems = seeded_share(stems, split, val_fraction, seed)
        pairs = [(folder / f"{s}.jpg", folder / f"{s}.png") for s in stems]
        pairs, self.skipped = usable_pairs(pairs, skip_bad)
        stems = [image.stem for image, _ in pairs]
        self.folder, self.stems, self.invalid = folder, stems, Counter()
        self.image_files = [(folder / f"{s}.jpg").resolve() for s in stems]
        self.annotation_file, self.conversion_id = folder, None

    def __len__(self) -> int:
        return len(self.stems)

    def image_path(self, index: int) -> Path:
        return self.folder / f"{self.stems[index]}.jpg"

    def label(self, index: int) -> np.ndarray:
        from PIL import Image

        path = self.folder / f"{self.stems[index]}.png"
        with Image.open(path) as png:
            if png.mode not in ("L", "P"):
                raise DatasetError(f"{path}: mask must be single-channel (L or P), got {png.mode}")
            label = np.asarray(png, dtype=np.int32).copy()
        bad = np.setdiff1d(np.unique(label), [*range(len(self.CLASSES)), 255])
        if bad.size:
            raise DatasetError(
                f"{path}: values {bad.tolist()} are not clothing13 classes (0-12, 255 = ignore)"
            )
        label[label == clothing13.IGNORE_VALUE] = IGNORE_LABEL
        return label


def get_segmentation_dataset(
    name: str, root, split: str, mode: str | None = None, **kwargs
) -> SegmentationBase:
    """``--dataset`` name to a dataset: imaterialist[_parts|_binary], clothing13, coco (any
    COCO JSON; ``annotation_file``, ``image_dir``, ``overlap``) or folder (``image_dir``,
    ``mask_dir``, ``classes``, ``ignore_value``)."""
    folder_only = ("mask_dir", "classes", "ignore_value")
    coco_only = ("annotation_file", "overlap")
    if name != "folder":
        kwargs = {k: v for k, v in kwargs.items() if k not in folder_only}
    if name != "coco":
        kwargs = {k: v for k, v in kwargs.items() if k not in coco_only}
    if name == "folder":
        return FolderSegmentation(root, split, mode, **kwargs)
    if name == "coco":
        kwargs.pop("val_fraction", None)
        kwargs.pop("seed", None)
        return IMaterialistSegmentation(root, split, mode, label_mode="all", **kwargs)
    kwargs.pop("image_dir", None)
    if name == "clothing13":
        return Clothing13Segmentation(root, split, mode, **kwargs)
    if name.startswith("imaterialist"):
        label_mode = {
            "imaterialist": "main",
            "imaterialist_parts": "parts",
            "imaterialist_binary": "binary",
        }.get(name)
        if label_mode:
            kwargs.pop("val_fraction", None)
            kwargs.pop("seed", None)
            return IMaterialistSegmentation(root, split, mode, label_mode=label_mode, **kwargs)
    raise DatasetError(f"--dataset {name!r}: choose from {', '.join(DATASETS)}")


class FolderSegmentation(SegmentationBase):
    """A parsing dataset of one's own: images and mask PNGs matched by stem, with a classes
    file (``gluonext.formats.parsing_masks``).

    Layouts: VOC's (``JPEGImages/``, ``SegmentationClass/``, ``ImageSets/Segmentation/
    <split>.txt``); ``<image_dir>/{train,val}`` with ``<mask_dir>/{train,val}``; or flat
    ``<image_dir>`` and ``<mask_dir>`` (default ``images/`` and ``masks/`` under the root) split
    by a seeded ``val_fraction``. Any image suffix, in any letter case. Classes: ``classes``
    (default ``<root>/classes.txt``); colours there become the drawing palette.
    """

    def __init__(
        self,
        root,
        split: str = "train",
        mode: str | None = None,
        base_size: int = 520,
        crop_size: int = 480,
        image_dir=None,
        mask_dir=None,
        classes=None,
        ignore_value: int = 255,
        val_fraction: float = 0.1,
        seed: int = 0,
        scale_range: tuple[float, float] = (0.5, 2.0),
        skip_bad: bool = False,
    ):
        from gluonext.common.images import IMAGE_SUFFIXES
        from gluonext.formats.parsing_masks import read_classes_file

        super().__init__(mode or split, base_size, crop_size, scale_range)
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"--data-root {root}: folder not found")
        self.CLASSES, colours = read_classes_file(classes or root / "classes.txt")
        self.palette = colours or palette_for(len(self.CLASSES))
        self.colours, self.ignore_value = colours, ignore_value
        voc = (root / "SegmentationClass").is_dir()
        images = root / (image_dir or ("JPEGImages" if voc else "images"))
        masks = root / (mask_dir or ("SegmentationClass" if voc else "masks"))
        wanted, presplit = None, False
        if voc:
            from gluonext.formats.labelimg import read_split

            wanted = read_split(root / "ImageSets" / "Segmentation" / f"{split}.txt")
        elif (images / split).is_dir() and (masks / split).is_dir():
            images, masks, presplit = images / split, masks / split, True
        for folder, flag in ((images, "--image-dir"), (masks, "--mask-dir")):
            if not folder.is_dir():
                raise DatasetError(f"{flag} {folder}: folder not found")
        mask_of = {p.stem: p for p in sorted(masks.iterdir()) if p.suffix.lower() == ".png"}
        masks_here = set(mask_of.values()) if images.resolve() == masks.resolve() else set()
        found = {p.stem: p for p in sorted(images.iterdir())  # photos beside their masks too
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p not in masks_here}
        self.skipped, self.invalid = Counter(), Counter()
        pairs = []
        for stem in wanted if wanted is not None else sorted(found):
            if stem not in found:
                problem, message = "no image", f"{images}: no image {stem}.* (listed in {split})"
            elif stem not in mask_of:
                problem, message = "no mask", f"{found[stem]}: no mask {stem}.png in {masks}"
            else:
                pairs.append((found[stem], mask_of[stem]))
                continue
            if not skip_bad:
                raise DatasetError(f"{message} (--skip-bad leaves it out)")
            self.skipped[problem] += 1
        if wanted is None and not presplit:  # one flat folder: a seeded split
            pairs = seeded_share(pairs, split, val_fraction, seed)
        self.pairs, screened = usable_pairs(pairs, skip_bad)
        self.skipped.update(screened)
        if not self.pairs:
            raise DatasetError(f"{images}: no image with a mask in {masks} for {split}")
        self.image_files = [image.resolve() for image, _ in self.pairs]
        self.annotation_file, self.conversion_id = masks, None

    def __len__(self) -> int:
        return len(self.pairs)

    def image_path(self, index: int) -> Path:
        return self.pairs[index][0]

    def label(self, index: int) -> np.ndarray:
        from gluonext.formats.parsing_masks import read_mask

        return read_mask(self.pairs[index][1], len(self.CLASSES), self.ignore_value, self.colours)


def run_datasets(args, val_mode: str = "testval") -> tuple[SegmentationBase, SegmentationBase]:
    """(train, val) of a run of train_segmentation.py, from its flags or from a checkpoint's
    ``meta["args"]``: the training set as it augments, the validation set in ``val_mode``
    (``testval`` whole images, ``val`` centre crops)."""
    if len(args.scale_range) != 2 or args.scale_range[0] > args.scale_range[1]:
        raise DatasetError(f"--scale-range {args.scale_range}: expected LOW,HIGH with LOW <= HIGH")
    kwargs = {"base_size": args.base_size, "crop_size": args.crop_size, "seed": args.seed,
              "skip_bad": args.skip_bad, "image_dir": args.image_dir, "mask_dir": args.mask_dir,
              "classes": args.classes, "ignore_value": args.ignore_value,
              "overlap": args.overlap}  # fmt: skip
    train_set = get_segmentation_dataset(
        args.dataset, args.data_root, args.train_split, "train",
        scale_range=tuple(args.scale_range), annotation_file=args.train_json, **kwargs,
    )  # fmt: skip
    val_set = get_segmentation_dataset(args.dataset, args.data_root, "val", val_mode,
                                       annotation_file=args.val_json, **kwargs)  # fmt: skip
    check_split_pair(train_set, val_set)
    return train_set, val_set
