"""What happens to Mask R-CNN's instances after the network, as the iMaterialist competition's
winners tuned it: the lowest score submitted, the mask probability threshold, a same-class
overlap suppression (NMS on mask IoU) and the smallest mask kept once better masks have taken
their pixels. ``tools/tune_thresholds.py`` writes the settings to ``thresholds.json`` beside
a checkpoint (or in an export folder); the predictor (mask threshold, suppression) and the
submission tool (score, smallest mask) read them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gluonext.common.files import write_json
from gluonext.errors import DatasetError

SETTINGS_FILE = "thresholds.json"


@dataclass(frozen=True)
class PostProcess:
    score: float = 0.5  # lowest score submitted
    mask: float = 0.5  # mask probability threshold
    nms: float = 1.0  # same-class mask IoU above which the lower-scored instance goes (1 = off)
    min_area: int = 1  # pixels a mask must keep after better masks took theirs

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULTS = PostProcess()


def read_settings(path) -> PostProcess | None:
    """The settings in ``path`` (a ``thresholds.json``), None when there is no such file; a
    one-line error when it is not one."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))["settings"]
        settings = PostProcess(float(found["score"]), float(found["mask"]), float(found["nms"]),
                               int(found["min_area"]))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a thresholds file of tools/tune_thresholds.py "
                           f"({exc.__class__.__name__}: {exc})") from None  # fmt: skip
    return settings


def settings_beside(model_path) -> PostProcess | None:
    """The tuned settings of a checkpoint (``thresholds.json`` in its folder) or an export
    folder (in it)."""
    path = Path(model_path)
    return read_settings((path if path.is_dir() else path.parent) / SETTINGS_FILE)


def write_settings(path, settings: PostProcess, report: dict) -> None:
    """``thresholds.json``: the settings and how they were found, written atomically."""
    write_json(Path(path), {"settings": settings.as_dict(), **report}, indent=2)


def suppress_same_class(masks: np.ndarray, class_ids: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept, in order, of instances sorted best first (``masks`` H x W x K 0/1): an
    instance goes when its mask overlaps a kept one of its class by more than ``iou``."""
    count = masks.shape[2]
    if iou >= 1.0 or count < 2:
        return np.arange(count)
    flat = masks.reshape(-1, count, order="F").astype(bool)
    areas = flat.sum(axis=0)
    kept: list[int] = []
    for k in range(count):
        for j in kept:
            if class_ids[j] != class_ids[k]:
                continue
            inter = int(np.logical_and(flat[:, j], flat[:, k]).sum())
            union = int(areas[j] + areas[k] - inter)
            if union and inter / union > iou:
                break
        else:
            kept.append(k)
    return np.array(kept, dtype=int)


def disjoint_masks(masks: list[np.ndarray], min_area: int = 1) -> list[tuple[int, np.ndarray]]:
    """(index, mask) of masks given best first, each keeping only the pixels no better mask
    took, without those left with fewer than ``min_area`` pixels (the competition wanted the
    masks of one image not to overlap)."""
    taken, kept = None, []
    for k, mask in enumerate(masks):
        taken = np.zeros_like(mask) if taken is None else taken
        if mask.shape != taken.shape:
            raise DatasetError("predictions disagree on the image size")
        mask = mask & (1 - taken)
        if int(mask.sum()) < min_area:
            continue
        taken |= mask
        kept.append((k, mask))
    return kept
