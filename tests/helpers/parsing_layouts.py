"""Parsing datasets in the layouts other tools write, made from generated clothing13 pairs
(photo + index mask): VOC's ``SegmentationClass`` (palette PNGs, 255 on object borders) and
LabelMe folders (labelme's documented JSON: polygons traced from the masks, one rectangle, a
line shape, ``imagePath`` relative to the JSON with Windows separators, ``labels.txt``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gluonext.common.drawing import voc_palette
from gluonext.formats.clothing13 import CLASSES
from gluonext.sample.writers import write_clothing13


def clothing13_pairs(root: Path, count: int, seed: int = 7, size=(64, 80)) -> list:
    """(photo, index mask) pairs of generated clothing13 data."""
    write_clothing13(root, count, seed=seed, size=size, progress=False)
    return [(p, np.asarray(Image.open(p.with_suffix(".png")))) for p in sorted(root.glob("*.jpg"))]


def voc_segmentation(root: Path, pairs, val: int) -> Path:
    """``JPEGImages/``, ``SegmentationClass/`` (palette PNG, 255 on each region's border as
    VOC marks them), ``ImageSets/Segmentation/{train,val}.txt`` and a classes file with
    colours."""
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    flat = [c for colour in voc_palette(256) for c in colour]
    for image, mask in pairs:
        shutil.copy(image, root / "JPEGImages" / image.name)
        border = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        marked = np.where(border, 255, mask).astype(np.uint8)
        png = Image.fromarray(marked, mode="P")
        png.putpalette(flat)
        png.save(root / "SegmentationClass" / f"{image.stem}.png")
    stems = [image.stem for image, _ in pairs]
    (root / "ImageSets/Segmentation/train.txt").write_text("\n".join(stems[:-val]) + "\n")
    (root / "ImageSets/Segmentation/val.txt").write_text("\n".join(stems[-val:]) + "\n")
    lines = [f"{name} #{r:02x}{g:02x}{b:02x}" for name, (r, g, b) in
             zip(CLASSES, voc_palette(len(CLASSES)), strict=True)]  # fmt: skip
    (root / "classes.txt").write_text("\n".join(lines) + "\n")
    return root


def labelme_folders(root: Path, pairs, val: int, labels=("skin", "hair", "shoes")) -> Path:
    """``images/`` and ``labelme/{train,val}/*.json`` (one per image), as labelme saves them,
    with ``labels.txt`` in ``labelme/``; each region of ``labels`` traced as polygons (a region in
    several pieces is one instance by group_id), and the first shoe also as a rectangle."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labelme").mkdir()
    names = "\n".join(["__ignore__", "_background_", *labels])
    (root / "labelme" / "labels.txt").write_text(names + "\n")
    for k, (image, mask) in enumerate(pairs):
        split = "val" if k >= len(pairs) - val else "train"
        shutil.copy(image, root / "images" / image.name)
        shapes = []
        for name in labels:
            region = (mask == CLASSES.index(name)).astype(np.uint8)
            contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            contours = [c[:, 0, :] for c in contours if len(c) >= 3]
            group = len(shapes) if len(contours) > 1 else None
            for contour in contours:
                shapes.append({"label": name, "points": contour.astype(float).tolist(),
                               "group_id": group, "shape_type": "polygon", "flags": {},
                               "description": ""})  # fmt: skip
        shapes.append({"label": "hair", "points": [[1.0, 1.0], [9.0, 1.0]], "group_id": None,
                       "shape_type": "line", "flags": {}})  # fmt: skip
        record = {"version": "5.4.1", "flags": {}, "shapes": shapes,
                  "imagePath": f"..\\..\\images\\{image.name}", "imageData": None,
                  "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}  # fmt: skip
        folder = root / "labelme" / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{image.stem}.json").write_text(json.dumps(record, indent=2))
    return root / "labelme"
