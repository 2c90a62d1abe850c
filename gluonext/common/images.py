"""Reading images, ImageNet normalisation, and folders of images to predict on.

``read_rgb`` decodes a file as RGB in stored pixel order (the frame annotations use), or with
``upright=True`` turned as its EXIF orientation says (what a person sees: prediction tools and
uploads); GIF gives its first frame, multi-page TIFF its first page. ``normalize`` turns an
image into GluonCV's input (C x H x W, ImageNet mean and std); ``list_inputs`` and
``readable_images`` list a folder and read it with unreadable files skipped and named.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from gluonext.errors import DatasetError

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255


STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def read_rgb(path, upright: bool = False) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 RGB, in stored pixel order (EXIF not applied, as in
    the annotations' frame) or, with ``upright``, turned by its EXIF orientation. Raises
    OSError naming the file when it cannot be decoded or is cut short (OpenCV fills a truncated
    JPEG's missing part with grey and says nothing)."""
    return decode_rgb(np.fromfile(str(path), dtype=np.uint8), path, upright)


def decode_rgb(data, name="image", upright: bool = False) -> np.ndarray:
    """``read_rgb`` for the bytes of an image file (an upload, say); errors name ``name``."""
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else data
    if not data.size:
        raise OSError(f"{name}: empty file (0 bytes)")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:  # GIF and whatever else OpenCV 4.8 does not decode, but PIL does
        rgb = _first_frame_rgb(data.tobytes(), name)
    else:
        problem = truncation(data[:16].tobytes(), data[-_TAIL_BYTES:].tobytes())
        if problem:
            raise OSError(f"{name}: {problem}")
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return turn_upright(rgb, exif_orientation(data.tobytes())) if upright else rgb


def _first_frame_rgb(data: bytes, name) -> np.ndarray:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.seek(0)  # a GIF's first frame, a TIFF's first page
            return np.asarray(picture.convert("RGB"))
    except Image.DecompressionBombError as exc:
        raise OSError(f"{name}: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError):
        raise OSError(f"{name}: not a readable image") from None


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) an image file's header states; 1 (as stored) when none."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:
            value = picture.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def turn_upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image`` (H x W x C, stored order) as shown by a viewer honouring EXIF ``orientation``
    (the same pixels as PIL's ``ImageOps.exif_transpose``)."""
    turned = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.transpose(1, 0, 2),  # mirrored along the main diagonal
        6: lambda a: np.rot90(a, -1),  # turned 90 degrees clockwise to view
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # mirrored along the other diagonal
        8: lambda a: np.rot90(a, 1),  # turned 90 degrees counter-clockwise to view
    }[orientation](image)
    return np.ascontiguousarray(turned)


_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
_TAIL_BYTES = 4096


class ImageTooLarge(OSError):
    """An image whose header declares more pixels than allowed (refused before decoding)."""


def header_pixels(data: bytes) -> tuple[int, str | None] | None:
    """(pixels, "W x H") an image file's header declares, read without decoding a pixel (PIL
    parses the header only); None when PIL does not recognise the format. Past PIL's own
    decompression-bomb guard, the pixel count it reports (and no "W x H")."""
    import io
    import re

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return width * height, f"{width} x {height}"
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        return (int(found.group(1)) if found else 10**12), None
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def check_pixels(data: bytes, max_pixels: float, name="image") -> None:
    """Refuse (``ImageTooLarge``) an image whose header declares more than ``max_pixels``
    pixels, before anything is decoded: a 30000 x 30000 PNG of one colour is a few MB on the
    wire and 2.7 GB once decoded."""
    found = header_pixels(data)
    if found is not None and found[0] > max_pixels:
        pixels, size = found
        declared = f"{size} pixels ({pixels / 1e6:.1f} megapixels)" if size else (
            f"{pixels / 1e6:.1f} megapixels")  # fmt: skip
        raise ImageTooLarge(
            f"{name}: {declared}; the limit is {max_pixels / 1e6:g} megapixels"
        )


def truncation(head: bytes, tail: bytes) -> str | None:
    """Why a JPEG or PNG whose first and last bytes are ``head`` / ``tail`` was cut short: no
    end-of-image marker (JPEG) or IEND chunk (PNG) near the end. None for complete files and
    for other formats (their decoders refuse truncation themselves)."""
    if head.startswith(_JPEG) and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker): the file is damaged"
    if head.startswith(_PNG) and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk): the file is damaged"
    return None


def image_problem(path, expect_hw: tuple[int, int] | None = None) -> str | None:
    """Why ``path`` cannot be trained on (missing, empty, not an image, truncated, another
    size than ``expect_hw`` (height, width)), or None. Reads the header and the last bytes
    only, not the pixels."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        return "image file not found"
    size = path.stat().st_size
    if size == 0:
        return "empty file (0 bytes)"
    with open(path, "rb") as handle:
        head = handle.read(16)
        handle.seek(max(0, size - _TAIL_BYTES))
        problem = truncation(head, handle.read())
    if problem:
        return problem
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as exc:
        return f"not a readable image ({exc.__class__.__name__})"
    if expect_hw is not None and (height, width) != tuple(expect_hw):
        return f"image is {height}x{width} but its annotation says {expect_hw[0]}x{expect_hw[1]}"
    return None


def _problem_kind(problem: str) -> str:
    if problem.startswith("image is "):
        return "image size differs from its annotation"
    return problem.split(":")[0].split(" (")[0]


def screen_images(entries, skip_bad: bool, progress: bool = False) -> tuple[list[int], Counter]:
    """Check ``entries`` ((path, expected (height, width) or None) pairs) before training:
    returns the indices of the usable ones and a count of the rest by problem; without
    ``skip_bad`` the first problem is a ``DatasetError`` naming the file."""
    kept, skipped = [], Counter()
    for index, (path, expect_hw) in enumerate(
        tqdm(entries, desc="checking images", disable=not progress, leave=False)
    ):
        problem = image_problem(path, expect_hw)
        if problem is None:
            kept.append(index)
        elif not skip_bad:
            raise DatasetError(f"{path}: {problem} (--skip-bad leaves such images out)")
        else:
            skipped[_problem_kind(problem)] += 1
    return kept, skipped


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


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def list_inputs(path: Path) -> list[Path]:
    """The files to predict on: ``path`` itself, or every file in the folder (sorted); a VOC
    year folder (``VOC2007/``) means its ``JPEGImages/``."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--input {path}: no such file or folder")
    if (path / "JPEGImages").is_dir() and (path / "ImageSets").is_dir():
        path = path / "JPEGImages"
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


def coco_image_ids(annotations: Path) -> dict[str, int]:
    """File name -> image id of every image of the COCO JSON ``annotations``."""
    try:
        images = json.loads(Path(annotations).read_text(encoding="utf-8"))["images"]
        return {Path(image["file_name"]).name: image["id"] for image in images}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(
            f"--annotations {annotations}: not a COCO JSON with images ({exc})"
        ) from None


def listed_in_coco(files: list[Path], annotations: Path) -> list[Path]:
    """The ``files`` whose name is a ``file_name`` of the COCO JSON ``annotations`` (e.g. the
    validation split the converter wrote), in their order."""
    names = coco_image_ids(annotations)
    return [path for path in files if path.name in names]


def readable_images(
    files: list[Path], skipped: list, desc: str = "predict", progress=True, upright=True,
    turned: dict | None = None,
):  # fmt: skip
    """(path, H x W x 3 uint8 RGB) of each readable image, turned upright by its EXIF
    orientation unless ``upright`` is False (``turned`` collects each turned file's name and
    orientation); other files are appended to ``skipped`` as (path, reason)."""
    for path in tqdm(files, desc=desc, disable=not progress):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "not an image file type"))
            continue
        try:
            data = np.fromfile(str(path), dtype=np.uint8)
            image = decode_rgb(data, path)
        except OSError as exc:
            skipped.append((str(path), str(exc)))
            continue
        orientation = exif_orientation(data.tobytes()) if upright else 1
        if orientation != 1:
            image = turn_upright(image, orientation)
            if turned is not None:
                turned[path.name] = orientation
        yield path, image
