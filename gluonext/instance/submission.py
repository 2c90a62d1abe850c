"""Mask R-CNN predictions to the iMaterialist Kaggle submission CSV, 2019 or 2020.

2019 (FGVC6): rows are ``ImageId,EncodedPixels,ClassId``: the image's file name, the mask as
Kaggle RLE (1-indexed starts, column-major, the same as train.csv) and the category id,
followed by the predicted attribute ids as that year's train.csv writes them (``6_28_77``) for
a model with an attribute head (predictions carrying ``attribute_ids``); the competition scored
the category. 2020 (FGVC7, its sample_submission.csv): ``ImageId,EncodedPixels,ClassId,
AttributesIds``: the file name without its suffix (as that year's train.csv names images), the
mask, the category alone, and the attribute ids comma-separated (empty for none). The competition
wanted masks of one image not to overlap: instances are taken from the highest score down and
each keeps only the pixels no better instance has claimed (instances left with fewer than
``min_area`` pixels are dropped).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pycocotools.mask as mask_util

from gluonext.common.files import atomic_open
from gluonext.errors import DatasetError
from gluonext.formats.imaterialist import format_class_id
from gluonext.formats.rle import mask_to_kaggle
from gluonext.instance.postprocess import disjoint_masks

HEADER = ("ImageId", "EncodedPixels", "ClassId")
HEADER_2020 = (*HEADER, "AttributesIds")
EDITIONS = (2019, 2020)


class SubmissionError(DatasetError):
    """Predictions that cannot be turned into a submission."""


@dataclass
class SubmissionReport:
    images: int = 0
    rows: int = 0
    below_threshold: int = 0
    swallowed: int = 0  # instances whose pixels were all claimed by better ones
    per_class: dict = field(default_factory=dict)


def _decode(record: dict, where: str) -> np.ndarray:
    seg = record.get("segmentation")
    if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
        raise SubmissionError(f"{where}: no RLE segmentation")
    counts = seg["counts"]
    rle = {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
    return mask_util.decode(rle)


def submission_rows(
    records: list[dict], threshold: float = 0.5, min_area: int = 1, edition: int = 2019
) -> tuple[list[tuple[str, ...]], SubmissionReport]:
    """Rows for every image in ``records`` (COCO results with ``file_name``), non-overlapping,
    in ``edition``'s layout (2019 or 2020)."""
    if edition not in EDITIONS:
        raise SubmissionError(f"edition {edition}: the competition ran in 2019 and 2020")
    by_image: dict[str, list] = defaultdict(list)
    report = SubmissionReport()
    for k, record in enumerate(records):
        name = record.get("file_name")
        if not name:
            raise SubmissionError(
                f"prediction {k}: no file_name (use tools/predict_instances.py's predictions.json)"
            )
        missing = [key for key in ("category_id", "score") if key not in record]
        if missing:
            raise SubmissionError(f"{name} prediction {k}: no {', '.join(missing)}")
        if record.get("exif_orientation", 1) != 1:
            raise SubmissionError(
                f"{name}: predicted turned upright by its EXIF orientation "
                f"{record['exif_orientation']}, but the competition scores the stored frame "
                "(run tools/predict_instances.py with --ignore-exif)"
            )
        if record["score"] < threshold:
            report.below_threshold += 1
            continue
        by_image[name].append(record)
    rows = []
    for name in sorted(by_image):
        ranked = sorted(by_image[name], key=lambda r: -r["score"])
        masks = [_decode(record, f"{name} prediction {k}") for k, record in enumerate(ranked)]
        try:
            kept = disjoint_masks(masks, min_area)
        except DatasetError as exc:
            raise SubmissionError(f"{name}: {exc}") from None
        report.swallowed += len(masks) - len(kept)
        for k, mask in kept:
            category = int(ranked[k]["category_id"])
            attributes = [int(a) for a in ranked[k].get("attribute_ids") or []]
            if edition == 2019:
                rows.append((name, mask_to_kaggle(mask), format_class_id(category, attributes)))
            else:
                rows.append((PurePath(name).stem, mask_to_kaggle(mask), str(category),
                             ",".join(map(str, attributes))))  # fmt: skip
            report.per_class[category] = report.per_class.get(category, 0) + 1
    report.images, report.rows = len({r[0] for r in rows}), len(rows)
    return rows, report


def write_submission(path, rows, edition: int = 2019) -> None:
    """The CSV in ``edition``'s layout, written atomically."""
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER if edition == 2019 else HEADER_2020)
        writer.writerows(rows)
