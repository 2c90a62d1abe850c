"""COCO evaluation with pycocotools, quietly: boxes and masks, per-category AP.

``coco_evaluate`` scores COCO result records against a COCO JSON with pycocotools'
``COCOeval`` (the numbers are COCOeval's own); detection and instance segmentation
both use it.
"""

from __future__ import annotations

import contextlib
import io

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def load_coco(path_or_dict):
    """A pycocotools COCO object from a path or an already-loaded dict, without its prints."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(path_or_dict, dict):
            gt = COCO()
            gt.dataset = path_or_dict
            gt.createIndex()
            return gt
        return COCO(str(path_or_dict))


def coco_evaluate(
    gt, results: list[dict], image_ids=None, category_ids=None, kinds=("bbox", "segm")
) -> dict:
    """COCOeval for each of ``kinds`` (``bbox``, ``segm``) on ``results``.

    Returns ``{"bbox": {AP..APl}, "segm": {AP..APl}, "per_category": {id: AP of the last kind,
    or None without ground truth}, "text": pycocotools' printed summaries}``. With no
    detections at all every AP is 0.
    """
    from pycocotools.cocoeval import COCOeval

    gt = gt if hasattr(gt, "loadRes") else load_coco(gt)
    image_ids = sorted(image_ids if image_ids is not None else gt.getImgIds())
    category_ids = sorted(category_ids if category_ids is not None else gt.getCatIds())
    out = {"per_category": {c: 0.0 for c in category_ids}, "text": ""}
    if not results:
        for kind in kinds:
            out[kind] = dict.fromkeys(STAT_NAMES, 0.0)
        out["text"] = "no detections"
        return out
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        detections = gt.loadRes([dict(r) for r in results])
        for kind in kinds:
            evaluator = COCOeval(gt, detections, kind)
            evaluator.params.imgIds = image_ids
            evaluator.params.catIds = category_ids
            evaluator.evaluate()
            evaluator.accumulate()
            print(f"--- {kind} ---")
            evaluator.summarize()
            stats = evaluator.stats[: len(STAT_NAMES)]
            out[kind] = {n: max(0.0, float(v)) for n, v in zip(STAT_NAMES, stats, strict=True)}
            if kind == kinds[-1]:
                # precision: [IoU thresholds, recall, category, area range, max dets]
                precision = evaluator.eval["precision"][:, :, :, 0, -1]
                for k, cat in enumerate(category_ids):
                    values = precision[:, :, k]
                    values = values[values > -1]
                    out["per_category"][cat] = float(values.mean()) if values.size else None
    out["text"] = buffer.getvalue()
    return out


def category_table(
    per_category: dict, names: dict, counts: dict | None = None, baseline: dict | None = None
) -> str:
    """Per-category mask AP as an aligned text table; with ``baseline`` (per-category AP of
    the image-blind predictor) a column of it beside."""

    def shown(ap) -> str:
        return "-" if ap is None else f"{ap:.4f}"

    extra = f"{'baseline':>10}" if baseline is not None else ""
    lines = [f"{'id':>4}  {'category':<40}{'instances':>10}{'mask AP':>10}{extra}"]
    for cat, ap in per_category.items():
        count = "" if counts is None else str(counts.get(cat, 0))
        column = "" if baseline is None else f"{shown(baseline.get(cat)):>10}"
        lines.append(
            f"{cat:>4}  {names.get(cat, str(cat))[:39]:<40}{count:>10}{shown(ap):>10}{column}"
        )
    return "\n".join(lines)
