"""Reading images, ImageNet normalisation, and folders of images to predict on.

``read_rgb`` decodes a file as RGB in stored pixel order; ``normalize`` turns it into
GluonCV's input (C x H x W, ImageNet mean and std); ``list_inputs`` and
``readable_images`` list a folder and read it with unreadable files skipped and named.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from gluonext.errors import DatasetError

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255


STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def read_rgb(path) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 RGB, in stored pixel order (EXIF not applied, as in
    the annotations' frame). Raises OSError naming the file when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = (
        cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    )
    if image is None:
        raise OSError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# uint8 value -> normalised float, one table per channel: one lookup instead of float math
_NORMALIZE_LUT = np.ascontiguousarray(
    (np.arange(256, dtype=np.float32)[None, :] - MEAN[:, None]) / STD[:, None]
)


def normalize(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB to C x H x W float32 with ImageNet mean and std (GluonCV's input)."""
    out = np.empty((3, *image.shape[:2]), dtype=np.float32)
    for channel, plane in enumerate(cv2.split(image)):
        cv2.LUT(plane, _NORMALIZE_LUT[channel], dst=out[channel])
    return out


def denormalize(chw: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(chw.transpose(1, 2, 0) * STD + MEAN), 0, 255).astype(np.uint8)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_inputs(path: Path) -> list[Path]:
    """The files to predict on: ``path`` itself, or every file in the folder (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--input {path}: no such file or folder")
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def listed_in_coco(files: list[Path], annotations: Path) -> list[Path]:
    """The ``files`` whose name is a ``file_name`` of the COCO JSON ``annotations`` (e.g. the
    validation split the converter wrote), in their order."""
    try:
        images = json.loads(Path(annotations).read_text(encoding="utf-8"))["images"]
        names = {Path(image["file_name"]).name for image in images}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"--annotations {annotations}: not a COCO JSON with images ({exc})"
        ) from None
    return [path for path in files if path.name in names]


def readable_images(files: list[Path], skipped: list, desc: str = "predict", progress=True):
    """(path, H x W x 3 uint8 RGB) of each readable image; other files are appended to
    ``skipped`` as (path, reason)."""
    for path in tqdm(files, desc=desc, disable=not progress):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "not an image file type"))
            continue
        try:
            yield path, read_rgb(path)
        except OSError as exc:
            skipped.append((str(path), str(exc)))
