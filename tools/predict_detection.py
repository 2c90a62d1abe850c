#!/usr/bin/env python
"""Detect apparel boxes in a folder of images (or one image) with a train_detection.py checkpoint.

Writes ``<name>_boxes.jpg`` per image (boxes, class names and scores above ``--draw-score``)
and ``detections.json``: per image its file name, size and detections (class, class id, score,
``box`` as pixel corners xmin, ymin, xmax, ymax), best first. Unreadable files are skipped
and listed.

    python tools/predict_detection.py --checkpoint runs/detection/.../checkpoint_best.ckpt \
        --input datasets/apparel_voc/test_images --output predictions/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool
from gluonext.common.logs import setup_logging
from gluonext.deploy.predictor import load_predictor
from gluonext.detection.predict import DetectionPredictOptions, predict_folder


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True,
                   help="a .ckpt written by train_detection.py, or its export folder")  # fmt: skip
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--output", required=True, help="folder for overlays and detections.json")
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0")
    p.add_argument("--min-score", type=float, default=0.05, help="lowest score kept in the JSON")
    p.add_argument("--draw-score", type=float, default=0.5, help="lowest score drawn")
    p.add_argument("--ignore-exif", action="store_true",
                   help="keep the stored pixel order (the annotations' frame) instead of turning "
                        "photos upright by their EXIF orientation")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "predict.log")
    options = DetectionPredictOptions(
        checkpoint=Path(args.checkpoint),
        input=Path(args.input),
        output=Path(args.output),
        draw_score=args.draw_score,
        progress=not args.no_progress,
        upright=not args.ignore_exif,
    )
    predictor = load_predictor(args.checkpoint, args.ctx, task="detection",
                               min_score=args.min_score)  # fmt: skip
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
