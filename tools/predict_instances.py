#!/usr/bin/env python
"""Detect garment instances in a folder of images (or one image) with a Mask R-CNN checkpoint.

Writes ``<name>_overlay.jpg`` per image (masks, boxes, class names and scores) and
``predictions.json``: COCO results (``image_id``, ``category_id``, ``bbox`` x,y,w,h, ``score``,
RLE ``segmentation``, and ``attribute_ids`` for a model with the attribute head) plus each
record's ``file_name``; overlays name the predicted attributes. Give ``--annotations`` (a COCO JSON)
to use its image ids, e.g. to score the JSON with pycocotools. Unreadable files are skipped.

    python tools/predict_instances.py --checkpoint runs/mask_rcnn/.../checkpoint_best.ckpt \
        --input datasets/imaterialist/test --output predictions/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool, scale_list
from gluonext.common.logs import setup_logging
from gluonext.deploy.predictor import load_predictor
from gluonext.instance.predict import InstancePredictOptions, predict_folder


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True,
                   help="a .ckpt written by train_mask_rcnn.py, or its export folder")  # fmt: skip
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--output", required=True, help="folder for overlays and predictions.json")
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0")
    p.add_argument("--min-score", type=float, default=0.05, help="lowest score kept in the JSON")
    p.add_argument("--draw-score", type=float, default=0.5, help="lowest score drawn")
    p.add_argument("--annotations", default=None, help="COCO JSON giving image ids by file name")
    p.add_argument("--flip-test", action="store_true",
                   help="mirrored passes too, merged by box and mask voting")
    p.add_argument("--scales", type=scale_list, default=(1.0,),
                   help="test scales of the short side, e.g. 0.8,1,1.2")
    p.add_argument("--ignore-exif", action="store_true",
                   help="keep the stored pixel order (the annotations' frame) instead of turning "
                        "photos upright by their EXIF orientation")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "predict.log")
    options = InstancePredictOptions(
        checkpoint=Path(args.checkpoint),
        input=Path(args.input),
        output=Path(args.output),
        draw_score=args.draw_score,
        annotations=Path(args.annotations) if args.annotations else None,
        progress=not args.no_progress,
        upright=not args.ignore_exif,
    )
    predictor = load_predictor(args.checkpoint, args.ctx, task="instances",
                               min_score=args.min_score, flip_test=args.flip_test,
                               scales=args.scales)  # fmt: skip
    report = predict_folder(options, predictor)
    for path, reason in report["skipped"]:
        log.info("  skipped %s: %s", path, reason)
    log.info(
        "%d image(s), %d detections, %d skipped; results in %s",
        report["done"],
        report["detections"],
        len(report["skipped"]),
        args.output,
    )
    return 0 if report["done"] else 1


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
