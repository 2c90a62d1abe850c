"""Folders of images to predict on: which files, and reading them with bad ones skipped."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from .data.transforms import read_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_inputs(path: Path) -> list[Path]:
    """The files to predict on: ``path`` itself, or every file in the folder (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"--input {path}: no such file or folder")
    return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))


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
