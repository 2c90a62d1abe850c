"""Parsing datasets of one's own: a classes file and mask PNGs, as LIP, CIHP, VOC's
``SegmentationClass`` and in-house labelling tools write them.

The classes file has one class per line, in index order: ``name``, or ``name R G B`` /
``name #RRGGBB`` giving the colour it is drawn in (and, for RGB masks, the colour that marks
it). A mask is a PNG of the image's size: an index PNG (``L``) or a palette PNG (``P``, as
VOC's) holding class indices, or an RGB PNG whose colours are the classes file's. The ignore
value (255 by default, VOC's object borders) becomes the training's ignore label.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gluonext.errors import DatasetError


def read_classes_file(path) -> tuple[tuple[str, ...], list[tuple[int, int, int]] | None]:
    """(class names, colours or None when no line gives one) of a classes file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--classes {path}: file not found (one class name per line, "
                           "index order, optionally R G B)")  # fmt: skip
    names, colours = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = re.match(r"^(.*?)\s+(?:#([0-9a-fA-F]{6})|(\d{1,3})\s+(\d{1,3})\s+(\d{1,3}))\s*$",
                         line.strip())  # fmt: skip
        if found and found.group(2):
            colour = tuple(int(found.group(2)[k : k + 2], 16) for k in (0, 2, 4))
        elif found:
            colour = tuple(int(found.group(k)) for k in (3, 4, 5))
            if max(colour) > 255:
                raise DatasetError(f"{path} line {number}: colour {colour} is not 0-255 RGB")
        else:
            colour = None
        names.append((found.group(1) if found else line).strip())
        colours.append(colour)
    if not names:
        raise DatasetError(f"{path}: no class names")
    if len(set(names)) != len(names):
        raise DatasetError(f"{path}: a class is listed twice")
    given = [c for c in colours if c is not None]
    if given and len(given) != len(colours):
        raise DatasetError(f"{path}: give a colour on every line or on none")
    if len(set(given)) != len(given):
        raise DatasetError(f"{path}: two classes share a colour")
    return tuple(names), (colours if given else None)


def read_mask(path, num_classes: int, ignore_value: int = 255, colours=None) -> np.ndarray:
    """The H x W int32 class map of a mask PNG (-1 where ``ignore_value``); values that are no
    class, or colours not in ``colours``, are an error naming the file."""
    from PIL import Image

    path = Path(path)
    try:
        with Image.open(path) as png:
            mode = png.mode
            if mode in ("L", "P", "I", "I;16"):
                label = np.asarray(png, dtype=np.int32).copy()
            elif mode in ("RGB", "RGBA"):
                rgb = np.asarray(png.convert("RGB"), dtype=np.int32)
            else:
                raise DatasetError(f"{path}: mask mode {mode}; expected index (L, P) or RGB")
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable mask ({exc.__class__.__name__})") from None
    if mode in ("RGB", "RGBA"):
        if colours is None:
            raise DatasetError(f"{path}: an RGB mask needs colours in the classes file")
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        lookup = {(r << 16) | (g << 8) | b: k for k, (r, g, b) in enumerate(colours)}
        values, inverse = np.unique(code, return_inverse=True)
        unknown = [v for v in values if int(v) not in lookup]
        if unknown:
            v = int(unknown[0])
            raise DatasetError(f"{path}: colour {(v >> 16, (v >> 8) & 255, v & 255)} is no class "
                               f"of the classes file ({len(unknown)} unknown colours)")  # fmt: skip
        return np.array([lookup[int(v)] for v in values], np.int32)[inverse].reshape(code.shape)
    ignored = label == ignore_value
    bad = np.setdiff1d(np.unique(label[~ignored]), np.arange(num_classes))
    if bad.size:
        raise DatasetError(f"{path}: values {bad[:5].tolist()} are no class (0-{num_classes - 1}"
                           f", {ignore_value} = ignore)")  # fmt: skip
    label[ignored] = -1
    return label
