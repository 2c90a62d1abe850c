"""COCO instance files as the datasets read them: checked records, decoded masks, split pairs.

Every script that reads a COCO instances JSON (the converter's iMaterialist files or any other)
goes through here, so the same faults get the same answer before the first epoch: a file that
is not COCO is an error naming it; an image record without a usable id, file name or size is an
error naming the record (or, with ``--skip-bad``, left out and counted); an annotation whose
``image_id`` is unknown or whose box, area or segmentation is empty or malformed is left out and
counted. A train/val pair that shares images, or comes from two different conversions (a kill
between the converter's writes, or two runs with different ``--seed`` / ``--val-num``), is
refused.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util

from gluonext.common.files import finish_publish
from gluonext.common.images import screen_images
from gluonext.errors import DatasetError

log = logging.getLogger(__name__)


def read_instances(path: Path, data_root: Path | None = None) -> dict:
    """The JSON of a COCO instances file, with ``images``, ``annotations``, ``categories``; a
    folder of LabelMe JSON files is read as one (``gluonext.formats.labelme``)."""
    path = Path(path)
    if path.is_dir():
        from gluonext.formats.labelme import labelme_payload

        return labelme_payload(path)
    if path.parent.is_dir() and finish_publish(path.parent, clean=False):
        log.info("%s: completed the publish an interrupted conversion left", path.parent)
    if not path.is_file():
        hint = f"; run tools/convert_imaterialist_to_coco.py --data-root {data_root} first"
        raise DatasetError(f"{path}: not found{hint if data_root else ''}")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        for key in ("images", "annotations", "categories"):
            if not isinstance(payload[key], list):
                raise TypeError(f"{key} is not a list")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a COCO instances file ({exc})") from None
    return payload


def image_problem(image) -> str | None:
    """Why an ``images`` record cannot be used, or None."""
    if not isinstance(image, dict) or not isinstance(image.get("id"), int):
        return "image record without an integer id"
    if not isinstance(image.get("file_name"), str) or not image["file_name"]:
        return f"image {image['id']} has no file_name"
    height, width = image.get("height"), image.get("width")
    if not isinstance(height, int) or not isinstance(width, int) or height <= 0 or width <= 0:
        return f"image {image['id']} has size {height}x{width}; sizes must be positive"
    return None


def checked_images(payload: dict, path: Path, skip_bad: bool) -> tuple[list[dict], int]:
    """The usable image records and how many were left out (``skip_bad``; else an error)."""
    kept, seen, skipped = [], set(), 0
    for image in payload["images"]:
        problem = image_problem(image)
        if problem is None and image["id"] in seen:
            problem = f"image id {image['id']} appears twice"
        if problem:
            if not skip_bad:
                raise DatasetError(f"{path}: {problem} (--skip-bad leaves such images out)")
            skipped += 1
            continue
        seen.add(image["id"])
        kept.append(image)
    return kept, skipped


def image_dir_of(payload: dict, root: Path) -> Path:
    """Where a COCO file's images are: ``root / info.image_dir`` (the converter records it),
    else ``root / train``."""
    info = payload.get("info") if isinstance(payload.get("info"), dict) else {}
    return Path(root) / info.get("image_dir", "train")


def usable_images(
    payload: dict, path: Path, image_dir: Path, skip_bad: bool, check_files: bool = True
) -> tuple[list[dict], Counter, list[Path]]:
    """The image records a dataset can use: records checked (``checked_images``) and, with
    ``check_files``, each file's header, end and size screened before any epoch. Returns
    (images, images left out by reason, the resolved file of every well-formed record, for
    ``check_split_pair``)."""
    images, bad_records = checked_images(payload, path, skip_bad)
    skipped = Counter({"unusable image record": bad_records} if bad_records else {})
    files = [(image_dir / image["file_name"]).resolve() for image in images]
    if check_files:
        entries = [(image_dir / im["file_name"], (im["height"], im["width"])) for im in images]
        kept, screened = screen_images(entries, skip_bad, progress=len(entries) > 2000)
        skipped.update(screened)
        images = [images[k] for k in kept]
    return images, skipped, files


def segmentation_problem(seg) -> str | None:
    """Why a ``segmentation`` cannot be decoded into a mask, or None."""
    if isinstance(seg, dict):
        size = seg.get("size")
        if "counts" not in seg or not isinstance(size, list) or len(size) != 2:
            return "RLE segmentation without counts/size"
        if not seg["counts"]:
            return "empty segmentation"
        return None
    if isinstance(seg, list):
        if not seg:
            return "empty segmentation"
        if any(not isinstance(p, list) or len(p) < 6 or len(p) % 2 for p in seg):
            return "polygon with fewer than 3 points"
        return None
    return "segmentation is neither RLE nor polygons"


def annotation_problem(ann, images_by_id: dict) -> str | None:
    """Why an ``annotations`` record cannot be trained or scored on, or None."""
    if not isinstance(ann, dict):
        return "annotation is not an object"
    image = images_by_id.get(ann.get("image_id"))
    if image is None:
        return "image_id not in images"
    if ann.get("iscrowd", 0):
        return "crowd annotation"
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4 or bbox[2] <= 0 or bbox[3] <= 0:
        return "box with zero area"
    if ann.get("area", 1) <= 0:
        return "mask with zero area"
    problem = segmentation_problem(ann.get("segmentation"))
    if problem is None and isinstance(ann["segmentation"], dict):
        if list(ann["segmentation"]["size"]) != [image["height"], image["width"]]:
            return "mask size differs from its image's"
    return problem


def annotations_by_image(payload: dict, images: list[dict], categories) -> tuple[dict, Counter]:
    """The usable annotations of ``categories`` grouped by image id (every image of
    ``images`` has an entry), and the count of those left out by reason."""
    images_by_id = {image["id"]: image for image in images}
    by_image: dict[int, list] = {image["id"]: [] for image in images}
    invalid: Counter = Counter()
    for ann in payload["annotations"]:
        if not isinstance(ann, dict) or ann.get("category_id") not in categories:
            continue
        reason = annotation_problem(ann, images_by_id)
        if reason:
            invalid[reason] += 1
        else:
            by_image[ann["image_id"]].append(ann)
    return by_image, invalid


def to_rles(segmentations: list, height: int, width: int) -> list[dict]:
    """COCO segmentations (compressed or plain RLE, or polygons) to pycocotools RLE objects."""
    rles = []
    for seg in segmentations:
        if isinstance(seg, list):  # polygons of one instance
            rles.append(mask_util.merge(mask_util.frPyObjects(seg, height, width)))
        elif isinstance(seg["counts"], list):  # uncompressed RLE
            rles.append(mask_util.frPyObjects(seg, height, width))
        else:
            counts = seg["counts"]
            rles.append(
                {
                    "size": seg["size"],
                    "counts": counts.encode() if isinstance(counts, str) else counts,
                }
            )
    return rles


def decode_masks(segmentations: list, height: int, width: int) -> np.ndarray:
    """All instance masks of an image as one H x W x N uint8 (0/1) array, row-major."""
    if not segmentations:
        return np.zeros((height, width, 0), dtype=np.uint8)
    return np.ascontiguousarray(mask_util.decode(to_rles(segmentations, height, width)))


def conversion_id(payload: dict) -> str | None:
    """The converter's id of the conversion that wrote ``payload`` (None for other files)."""
    info = payload.get("info")
    conversion = info.get("conversion") if isinstance(info, dict) else None
    return conversion.get("id") if isinstance(conversion, dict) else None


def check_split_pair(train_set, val_set) -> None:
    """Refuse a train/val pair of datasets (``annotation_file``, ``conversion_id``,
    ``image_files``) that comes from two conversions or shares an image file."""
    train_path, val_path = Path(train_set.annotation_file), Path(val_set.annotation_file)
    ids = train_set.conversion_id, val_set.conversion_id
    if ids[0] and ids[1] and ids[0] != ids[1]:
        raise DatasetError(
            f"{train_path.name} and {val_path.name} in {train_path.parent} come from different "
            "conversions (an interrupted or repeated run with other options): run "
            "tools/convert_imaterialist_to_coco.py again"
        )
    shared = sorted(set(train_set.image_files) & set(val_set.image_files))
    if shared:
        raise DatasetError(
            f"{val_path}: {len(shared)} validation image(s) are also training images in "
            f"{train_path} (first: {shared[0].name}); use a disjoint split"
        )
