"""Mask AP as Fashionpedia scores attribute models: with IoU, and with IoU and attribute F1.

Follows ``fashionpedia.fp_eval.FPEval`` (Fashionpedia API 1.1, KMnP/fashionpedia-api), which
extends pycocotools' COCOeval: for the categories that carry attributes a detection matches a
ground truth only if the mask IoU reaches the IoU threshold (0.5:0.95) *and* the attribute F1
(``attributes.f1``) reaches the F1 threshold (0.5:0.95); precision at 101 recall points is
averaged over both thresholds and the categories (categories without attributes by IoU alone),
all areas, at most 100 detections per image and category. ``AP_IoU`` drops the F1 condition.
The greedy matching is FPEval's: a ground truth replaces the match so far only if both its IoU
and its F1 are at least the current match's. ``tests/instance`` checks the figures against the
``fashionpedia`` package on the same predictions.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pycocotools.mask as mask_util

from gluonext.instance.attributes import CATEGORIES_WITH_ATTRIBUTES, f1

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
F1_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALLS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100


def _rle(segmentation, height: int, width: int):
    if isinstance(segmentation, list):  # polygons
        return mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    if isinstance(segmentation["counts"], list):  # uncompressed RLE
        return mask_util.frPyObjects(segmentation, height, width)
    return segmentation


def _mask_ious(dt: list, gt: list, crowd, size) -> np.ndarray:
    """(detections, ground truths) mask IoU, pycocotools' (crowd regions by their own rule)."""
    if not dt or not gt:
        return np.zeros((len(dt), len(gt)))
    height, width = size
    found = [_rle(d["segmentation"], height, width) for d in dt]
    truth = [_rle(g["segmentation"], height, width) for g in gt]
    return np.array(mask_util.iou(found, truth, [int(c) for c in crowd])).reshape(len(dt), -1)


def _attribute_f1s(dt: list, gt: list, num_attributes: int) -> np.ndarray:
    """(detections, ground truths) attribute F1."""
    table = [[f1(g.get("attribute_ids") or [], d.get("attribute_ids") or [], num_attributes)
              for g in gt] for d in dt]  # fmt: skip
    return np.array(table, float).reshape(len(dt), len(gt))


def _match(ious, f1s, crowd, iou_thr: float, f1_thr: float, attributes: bool):
    """FPEval's (or, without attributes, COCOeval's) greedy matching for one threshold pair:
    (detection matched?, detection matched a crowd region?) per detection, best first."""
    num_dt, num_gt = ious.shape
    gt_taken = np.zeros(num_gt, bool)
    matched, ignored = np.zeros(num_dt, bool), np.zeros(num_dt, bool)
    for d in range(num_dt):
        best_iou, best_f1, m = min(iou_thr, 1 - 1e-10), min(f1_thr, 1 - 1e-10), -1
        for g in range(num_gt):
            if gt_taken[g] and (attributes or not crowd[g]):
                continue
            if m > -1 and not crowd[m] and crowd[g]:
                break
            if ious[d, g] < best_iou or (attributes and f1s[d, g] < best_f1):
                continue
            best_iou, m = ious[d, g], g
            if attributes:
                best_f1 = f1s[d, g]
        if m > -1:
            matched[d], ignored[d] = True, bool(crowd[m])
            gt_taken[m] = True
    return matched, ignored


def _precision(entries, num_gt: int) -> np.ndarray:
    """Interpolated precision at ``RECALLS`` (COCOeval's) from (score, matched, ignored)."""
    if not num_gt:
        return None
    scores = np.array([e[0] for e in entries], float)
    order = np.argsort(-scores, kind="mergesort")
    matched = np.array([e[1] for e in entries], bool)[order]
    ignored = np.array([e[2] for e in entries], bool)[order]
    tp = np.cumsum(matched & ~ignored).astype(float)
    fp = np.cumsum(~matched & ~ignored).astype(float)
    recall = tp / num_gt
    precision = (tp / (fp + tp + np.spacing(1))).tolist()
    for i in range(len(precision) - 1, 0, -1):
        precision[i - 1] = max(precision[i - 1], precision[i])
    out = np.zeros(len(RECALLS))
    for r, p in enumerate(np.searchsorted(recall, RECALLS, side="left")):
        if p >= len(precision):
            break
        out[r] = precision[p]
    return out


def evaluate_attributes(images: list[dict], annotations: list[dict], results: list[dict],
                        category_ids, num_attributes: int,
                        with_attributes=CATEGORIES_WITH_ATTRIBUTES) -> dict:  # fmt: skip
    """``AP_IoU_F1`` (Fashionpedia's headline AP), ``AP_IoU50_F150`` and ``AP_IoU`` of COCO
    ``results`` (segmentation RLE, score, ``attribute_ids``) against ``annotations`` (with
    ``attribute_ids``) on ``images``, over ``category_ids``; ``num_attributes``: the length of
    the attribute list F1 is computed over."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in images}
    gts, dts = defaultdict(list), defaultdict(list)
    for ann in annotations:
        gts[ann["image_id"], ann["category_id"]].append(ann)
    for res in results:
        dts[res["image_id"], res["category_id"]].append(res)
    iou_thrs = [*IOU_THRESHOLDS, -1.0]
    curves = {}  # (category, iou index, f1 index or -1) -> precision at RECALLS
    for category in sorted(set(category_ids)):
        attributes = category in with_attributes
        f1_thrs = [*F1_THRESHOLDS, -1.0] if attributes else [-1.0]
        entries = defaultdict(list)  # (iou index, f1 index) -> (score, matched, ignored)
        num_gt = 0
        for image in sorted(sizes):
            gt, dt = gts[image, category], dts[image, category]
            if not gt and not dt:
                continue
            dt = [dt[i] for i in np.argsort([-d["score"] for d in dt], kind="mergesort")]
            dt = dt[:MAX_DETS]
            crowd = np.array([bool(g.get("iscrowd", 0)) for g in gt], dtype=bool)
            gt = [gt[i] for i in np.argsort(crowd, kind="mergesort")]
            crowd = np.sort(crowd, kind="mergesort")
            num_gt += int((~crowd).sum())
            ious = _mask_ious(dt, gt, crowd, sizes[image])
            f1s = np.zeros((len(dt), len(gt)))
            if attributes:
                f1s = _attribute_f1s(dt, gt, num_attributes)
            scores = [d["score"] for d in dt]
            for t, iou_thr in enumerate(iou_thrs):
                for f, f1_thr in enumerate(f1_thrs):
                    matched, ignored = _match(ious, f1s, crowd, iou_thr, f1_thr, attributes)
                    entries[t, f].extend(zip(scores, matched, ignored, strict=True))
        for (t, f), found in entries.items():
            curve = _precision(found, num_gt)
            if curve is not None:
                curves[category, t, f if attributes else -1] = curve
    return {
        "AP_IoU_F1": _mean([c for (cat, t, f), c in curves.items() if t < len(IOU_THRESHOLDS)
                            and (f < len(F1_THRESHOLDS) if cat in with_attributes
                                 else f == -1)]),  # fmt: skip
        "AP_IoU50_F150": _mean([c for (cat, t, f), c in curves.items() if t == 0
                                and (f == 0 if cat in with_attributes else f == -1)]),  # fmt: skip
        "AP_IoU": _mean([c for (cat, t, f), c in curves.items() if t < len(IOU_THRESHOLDS)
                         and f in (-1, len(F1_THRESHOLDS))]),  # fmt: skip
    }


def _mean(curves) -> float:
    return float(np.mean(np.concatenate(curves))) if curves else -1.0


def found_garment_f1(images: list[dict], annotations: list[dict], results: list[dict],
                     baseline_sets: dict, num_attributes: int,
                     with_attributes=CATEGORIES_WITH_ATTRIBUTES) -> dict:  # fmt: skip
    """Attribute F1 on the garments the model found, against the image-blind predictor on the
    same garments: each ground truth of a category with attributes is paired with the best
    scored detection of its class whose mask IoU reaches 0.5; ``attr_F1`` averages the F1 of
    the detection's attributes, ``baseline_attr_F1`` that of its category's frequency set
    (``baseline_sets``), ``found`` counts the pairs of ``garments``; ``attr_F1_gain_se`` is the
    standard error of the mean of the paired differences (model minus frequency set), the noise
    a gain must clear."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in images}
    by_key = defaultdict(list)
    for res in results:
        by_key[res["image_id"], res["category_id"]].append(res)
    model, blind, garments = [], [], 0
    for ann in annotations:
        category = ann["category_id"]
        if category not in with_attributes or ann.get("iscrowd", 0):
            continue
        garments += 1
        candidates = by_key[ann["image_id"], category]
        if not candidates:
            continue
        height, width = sizes[ann["image_id"]]
        ious = mask_util.iou([_rle(d["segmentation"], height, width) for d in candidates],
                             [_rle(ann["segmentation"], height, width)], [0])  # fmt: skip
        hits = [d for d, iou in zip(candidates, np.asarray(ious).reshape(-1), strict=True)
                if iou >= 0.5]  # fmt: skip
        if not hits:
            continue
        best = max(hits, key=lambda d: d["score"])
        truth = ann.get("attribute_ids") or []
        model.append(f1(truth, best.get("attribute_ids") or [], num_attributes))
        blind.append(f1(truth, baseline_sets.get(category, []), num_attributes))
    gains = np.subtract(model, blind)
    se = float(gains.std(ddof=1) / np.sqrt(len(gains))) if len(gains) > 1 else 0.0
    return {"attr_F1": float(np.mean(model)) if model else 0.0,
            "baseline_attr_F1": float(np.mean(blind)) if blind else 0.0,
            "attr_F1_gain_se": se, "found": len(model), "garments": garments}  # fmt: skip


def score_attributes(dataset, results: list[dict], baseline_sets: dict) -> dict:
    """Every attribute figure of ``results`` on an ``InstanceDataset`` with attributes:
    Fashionpedia's APs (``attr_AP_IoU_F1``, ``attr_AP_IoU50_F150``, ``attr_AP_IoU``) and the
    found-garment F1 against the frequency baseline (``found_garment_f1``)."""
    size = len(dataset.vocabulary)
    annotations = dataset.all_annotations()
    aps = evaluate_attributes(dataset.images, annotations, results, dataset.category_ids, size)
    scores = {f"attr_{k}": v for k, v in aps.items()}
    scores.update(found_garment_f1(dataset.images, annotations, results, baseline_sets, size))
    return scores
