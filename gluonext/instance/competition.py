"""The iMaterialist (Fashion) 2019 competition's score, computed locally from a submission CSV
and a ground-truth CSV in the competition's own layout.

Followed: the competition's evaluation description (mean average precision at IoU thresholds
0.50 to 0.95 in steps of 0.05, precision TP / (TP + FP + FN), per image and class) as the
winning team's ``src/metric.py`` (amirassov/kaggle-imaterialist) computes it. For every
(image, class) pair in the ground truth or the submission, every true mask is compared with
every predicted mask of that class; at a threshold t a true mask matched by exactly one
predicted mask with IoU > t is a true positive, a true mask matched by none a false negative,
and a predicted mask matching no true mask a false positive. A pair's score is the mean
precision over the ten thresholds (0 for a class only predicted or only in the truth); the
score is the mean over pairs. ClassId ``6_28_77`` (category and attributes) counts as 6.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gluonext.errors import DatasetError
from gluonext.formats.imaterialist import parse_class_id
from gluonext.formats.rle import RLEError, parse_kaggle

THRESHOLDS = np.round(np.arange(0.5, 1.0, 0.05), 2)  # 0.50, 0.55, ..., 0.95


def pair_score(true_masks: list[np.ndarray], predicted: list[np.ndarray]) -> float:
    """Mean over ``THRESHOLDS`` of TP / (TP + FP + FN) for the flat boolean masks of one image
    and class."""
    if not true_masks or not predicted:
        return 0.0
    truth = np.stack(true_masks).astype(np.float64)
    guess = np.stack(predicted).astype(np.float64)
    inter = truth @ guess.T
    union = truth.sum(1)[:, None] + guess.sum(1)[None, :] - inter
    iou = inter / np.maximum(union, 1e-9)
    precisions = []
    for threshold in THRESHOLDS:
        matches = iou > threshold
        tp = int((matches.sum(axis=1) == 1).sum())
        fn = int((matches.sum(axis=1) == 0).sum())
        fp = int((matches.sum(axis=0) == 0).sum())
        precisions.append(tp / (tp + fp + fn))
    return float(np.mean(precisions))


def decode_flat(text: str, height: int, width: int, where: str) -> np.ndarray:
    """A Kaggle RLE as a flat boolean mask (column-major, as the RLE counts)."""
    try:
        runs = parse_kaggle(text, height, width)
    except RLEError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    mask = np.zeros(height * width, bool)
    for start, length in runs:
        mask[start - 1 : start - 1 + length] = True
    return mask


def _class_of(value: str, where: str) -> int:
    try:
        return int(str(value).split("_")[0])
    except ValueError:
        raise DatasetError(f"{where}: ClassId {value!r} is not a number") from None


def _rows(path: Path, needed: tuple[str, ...]):
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: no column {', '.join(missing)} (has "
                               f"{', '.join(reader.fieldnames or [])})")  # fmt: skip
        yield from enumerate(reader, start=2)


@dataclass
class CompetitionScore:
    score: float
    pairs: int
    per_class: dict = field(default_factory=dict)  # class -> mean over its pairs


def competition_score(ground_truth, submission) -> CompetitionScore:
    """The competition's score of ``submission`` (``ImageId,EncodedPixels,ClassId``) against
    ``ground_truth`` (the competition's train.csv layout: ``ImageId,EncodedPixels,Height,
    Width,ClassId``)."""
    ground_truth, submission = Path(ground_truth), Path(submission)
    truth: dict = defaultdict(list)
    sizes: dict[str, tuple[int, int]] = {}
    for line, row in _rows(ground_truth, ("ImageId", "EncodedPixels", "Height", "Width",
                                          "ClassId")):  # fmt: skip
        where = f"{ground_truth} line {line}"
        try:
            size = int(row["Height"]), int(row["Width"])
        except ValueError:
            raise DatasetError(f"{where}: Height/Width are not numbers") from None
        sizes[row["ImageId"]] = size
        key = (row["ImageId"], _class_of(row["ClassId"], where))
        truth[key].append(decode_flat(row["EncodedPixels"], *size, where))
    guesses: dict = defaultdict(list)
    for line, row in _rows(submission, ("ImageId", "EncodedPixels", "ClassId")):
        where = f"{submission} line {line}"
        key = (row["ImageId"], _class_of(row["ClassId"], where))
        if not row["EncodedPixels"].strip():
            continue  # an image submitted without a mask
        size = sizes.get(row["ImageId"])
        # an image the truth does not know: its predictions are false positives either way
        guesses[key].append(decode_flat(row["EncodedPixels"], *size, where) if size else None)
    if not truth and not guesses:
        raise DatasetError(f"{ground_truth} and {submission}: no masks to score")
    known = {image for image, _ in truth}
    submitted = sorted({image for image, _ in guesses})
    if known and submitted and not known.intersection(submitted):
        raise DatasetError(
            f"{submission}: none of its ImageIds is in {ground_truth} (e.g. {submitted[0]!r} "
            f"against {min(known)!r}; 2020's ImageIds have no suffix: submit with --edition "
            "2020)"
        )
    return score_pairs(truth, guesses)


def score_pairs(truth: dict, guesses: dict) -> CompetitionScore:
    """The score of (image, class) -> flat true masks against (image, class) -> flat predicted
    masks (None for an image the truth does not have)."""
    scores, by_class = [], defaultdict(list)
    for key in sorted(set(truth) | set(guesses), key=str):
        predicted = [m for m in guesses.get(key, []) if m is not None]
        value = pair_score(truth.get(key, []), predicted) if key in truth else 0.0
        scores.append(value)
        by_class[key[1]].append(value)
    per_class = {c: float(np.mean(v)) for c, v in sorted(by_class.items())}
    return CompetitionScore(float(np.mean(scores)) if scores else 0.0, len(scores), per_class)


def add_true_masks(truth: dict, dataset, index: int) -> None:
    """Add image ``index`` of ``dataset`` (an ``InstanceDataset``) to ``truth``: (file name,
    category id) -> flat column-major boolean masks, as ``score_pairs`` takes them."""
    from gluonext.formats.coco import decode_masks

    image = dataset.images[index]
    masks = decode_masks(dataset.segmentations(index), image["height"], image["width"])
    for k, annotation in enumerate(dataset.annotations[index]):
        truth[(image["file_name"], annotation["category_id"])].append(
            masks[:, :, k].flatten(order="F").astype(bool)
        )


def score_results(dataset, results: list[dict], threshold: float = 0.5) -> CompetitionScore:
    """The competition's score of COCO result records (``train_mask_rcnn.py --eval``'s) on
    ``dataset`` (an ``InstanceDataset``), after what the submission does to them: scores below
    ``threshold`` dropped, the masks of one image made disjoint, best first."""
    from gluonext.instance.submission import submission_rows

    names = {image["id"]: image["file_name"] for image in dataset.images}
    sizes = {image["file_name"]: (image["height"], image["width"]) for image in dataset.images}
    truth: dict = defaultdict(list)
    for index in range(len(dataset.images)):
        add_true_masks(truth, dataset, index)
    named = [{**r, "file_name": names[r["image_id"]]} for r in results if r["image_id"] in names]
    rows, _ = submission_rows(named, threshold)
    guesses: dict = defaultdict(list)
    for name, encoded, class_id in rows:
        category = parse_class_id(class_id)[0]  # "6_28_77": category 6 with its attributes
        guesses[(name, category)].append(decode_flat(encoded, *sizes[name], name))
    return score_pairs(truth, guesses)
