"""COCO-style instance datasets: the converter's iMaterialist JSON or any COCO instances file.

GluonCV's ``COCOInstance`` takes polygons only and builds image paths from ``coco_url``; this
one reads RLE (compressed or not) as well as polygons, finds images under the data root, and
yields ``(H x W x 3 uint8 image, (N, 5) float32 [x1, y1, x2, y2, class], segmentations)``, or
whatever ``transform(image, label, segmentations, rng)`` makes of them. Boxes are continuous
corners: a mask covering pixel columns x .. x + w - 1 has x1 = x and x2 = x + w (COCO's bbox).

Training sets skip images without a usable annotation (counted in ``skipped``); validation sets
keep every image in ascending image-id order, which GluonCV's COCO metrics rely on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from mxnet import gluon

from gluonext.common.images import read_rgb
from gluonext.errors import DatasetError
from gluonext.formats.coco import (
    annotations_by_image,
    conversion_id,
    image_dir_of,
    read_instances,
    usable_images,
)
from gluonext.formats.imaterialist import select_categories


class InstanceDataset(gluon.data.Dataset):
    """Instances of a COCO JSON file, for Mask R-CNN (masks) and box detectors.

    ``categories``: ``all``, ``main`` (iMaterialist's 13 main apparel) or ``"0,1,10"``; class
    index k (0-based, GluonCV's convention) is ``category_ids[k]`` in the file.
    ``attributes``: labels carry one more 0/1 column per entry of the file's attribute list
    (``vocabulary``), from each annotation's ``attribute_ids`` (Fashionpedia's attribute head).
    """

    def __init__(
        self,
        root,
        split: str = "train",
        categories: str = "all",
        annotation_file: str | None = None,
        image_dir: str | None = None,
        skip_empty: bool | None = None,
        transform=None,
        skip_bad: bool = False,
        check_images: bool = True,
        attributes: bool = False,
    ):
        self.root, self.split = Path(root), split
        path = Path(annotation_file or self.root / "annotations" / f"instances_{split}.json")
        self.annotation_file = path
        payload = read_instances(path, self.root)
        self.conversion_id = conversion_id(payload)
        self.image_dir = Path(image_dir) if image_dir else image_dir_of(payload, self.root)
        names = {c["id"]: c["name"] for c in payload["categories"]}
        try:
            self.category_ids = select_categories(categories, sorted(names))
        except ValueError as exc:
            raise DatasetError(f"{path}: {exc}") from None
        if not self.category_ids:
            raise DatasetError(f"{path}: none of --categories {categories!r} is in the file")
        self.CLASSES = tuple(names[c] for c in self.category_ids)
        self.label_of = {c: k for k, c in enumerate(self.category_ids)}
        self.transform_fn = transform
        self.categories = payload["categories"]
        self.vocabulary = _vocabulary(payload, path) if attributes else None

        # images left out by reason
        images, self.skipped, self.image_files = usable_images(
            payload, path, self.image_dir, skip_bad, check_images
        )
        by_image, self.invalid = annotations_by_image(payload, images, self.label_of)
        if skip_empty is None:
            skip_empty = split == "train"
        kept = []
        for image in sorted(images, key=lambda im: im["id"]):
            if skip_empty and not by_image[image["id"]]:
                self.skipped["no usable annotation"] += 1
                continue
            kept.append(image)
        self.images = kept
        self.annotations = [by_image[image["id"]] for image in kept]

    @property
    def num_class(self) -> int:
        return len(self.CLASSES)

    @property
    def image_ids(self) -> list[int]:
        return [image["id"] for image in self.images]

    def __len__(self) -> int:
        return len(self.images)

    def size(self, index: int) -> tuple[int, int]:
        """(height, width) of image ``index`` as the annotation file records it."""
        info = self.images[index]
        return info["height"], info["width"]

    def image_path(self, index: int) -> Path:
        return self.image_dir / self.images[index]["file_name"]

    def coco(self):
        """The usable part of the annotation file (the images and annotations this dataset
        kept) as a pycocotools COCO object, built once on first use: a record pycocotools
        cannot parse never reaches the evaluation."""
        if getattr(self, "_coco", None) is None:
            from gluonext.common.coco_eval import load_coco

            annotations = [ann for anns in self.annotations for ann in anns]
            dataset = {"images": self.images, "annotations": annotations,
                       "categories": self.categories}  # fmt: skip
            self._coco = load_coco(dataset)
        return self._coco

    def summary(self) -> str:
        """One line: images, instances, what was left out."""
        instances = sum(len(a) for a in self.annotations)
        parts = [
            f"{len(self)} {self.split} images, {instances} instances, {self.num_class} classes"
        ]
        for reason, count in sorted(self.skipped.items()):
            parts.append(f"{count} images skipped ({reason})")
        for reason, count in sorted(self.invalid.items()):
            parts.append(f"{count} annotations left out ({reason})")
        return "; ".join(parts)

    def label(self, index: int) -> np.ndarray:
        """(N, 5) float32 ``[x1, y1, x2, y2, class]`` of image ``index``."""
        anns = self.annotations[index]
        extra = len(self.vocabulary) if self.vocabulary else 0
        label = np.zeros((len(anns), 5 + extra), dtype=np.float32)
        for row, ann in enumerate(anns):
            x, y, w, h = ann["bbox"]
            label[row, :5] = (x, y, x + w, y + h, self.label_of[ann["category_id"]])
            if extra:
                try:
                    label[row, 5:] = self.vocabulary.multi_hot(ann.get("attribute_ids") or [])
                except KeyError as exc:
                    raise DatasetError(f"{self.annotation_file}: annotation {ann.get('id')} has "
                                       f"attribute id {exc.args[0]}, not in the file's "
                                       f"attributes list") from None  # fmt: skip
        return label

    def segmentations(self, index: int) -> list:
        return [ann["segmentation"] for ann in self.annotations[index]]

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, list]:
        """(image, label, segmentations) of image ``index``; sizes checked against the JSON."""
        info = self.images[index]
        path = self.image_path(index)
        try:
            image = read_rgb(path)
        except OSError as exc:
            raise DatasetError(str(exc)) from None
        if image.shape[:2] != (info["height"], info["width"]):
            raise DatasetError(
                f"{path}: image is {image.shape[0]}x{image.shape[1]} but "
                f"{self.annotation_file.name} says {info['height']}x{info['width']}"
            )
        return image, self.label(index), self.segmentations(index)

    def all_annotations(self) -> list[dict]:
        return [ann for anns in self.annotations for ann in anns]

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        image, label, segs = self.load(index)
        if self.transform_fn is None:
            return image, label, segs
        return self.transform_fn(image, label, segs, np.random.RandomState(seed))


def _vocabulary(payload: dict, path: Path):
    from gluonext.instance.attributes import AttributeVocabulary

    entries = payload.get("attributes") or []
    if not entries:
        raise DatasetError(f"{path}: no 'attributes' list (--attributes needs the converter's "
                           "JSON, which copies label_descriptions.json's attributes)")
    return AttributeVocabulary(entries)
