#!/usr/bin/env python
"""Predict garment landmarks with a train_keypoints.py checkpoint: overlays with named
landmarks and a 26-column FashionAI CSV.

Images come from ``--input`` (an image or folder; the category is ``--category``, the
checkpoint's own, or the folder name as in ``Images/<category>/``) or from a FashionAI test
list (``--test-csv`` with ``--data-root``; a per-category model predicts its category's
rows). ``keypoints.csv`` holds ``x_y_1`` for the category's keypoints and ``-1_-1_-1`` for the
rest; merge per-category files with tools/fashionai_submission.py.

    python tools/predict_keypoints.py --checkpoint runs/keypoints/blouse.../checkpoint_best.ckpt \
        --test-csv datasets/fashionai/test/test.csv --data-root datasets/fashionai/test \
        --output predictions/blouse --flip-test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool, scale_list
from gluonext.common.logs import setup_logging
from gluonext.deploy.predictor import load_predictor
from gluonext.formats.fashionai import CATEGORIES
from gluonext.keypoints.predict import KeypointPredictOptions, predict_folder


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True,
                   help="a .ckpt written by train_keypoints.py, or its export folder")  # fmt: skip
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="an image file or a folder of images")
    source.add_argument("--test-csv", help="FashionAI test list (image_id,image_category,...)")
    p.add_argument("--data-root", default=None, help="folder the test list's image_ids are in")
    p.add_argument("--category", default=None, choices=CATEGORIES, help="of every --input image")
    p.add_argument("--output", required=True, help="folder for overlays and keypoints.csv")
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0")
    p.add_argument("--flip-test", action="store_true")
    p.add_argument("--scales", type=scale_list, default=(1.0,))
    p.add_argument("--ignore-exif", action="store_true",
                   help="keep the stored pixel order (the annotations' frame) instead of turning "
                        "photos upright by their EXIF orientation")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "predict.log")
    options = KeypointPredictOptions(
        checkpoint=Path(args.checkpoint),
        output=Path(args.output),
        input=Path(args.input) if args.input else None,
        test_csv=Path(args.test_csv) if args.test_csv else None,
        data_root=Path(args.data_root) if args.data_root else None,
        category=args.category,
        progress=not args.no_progress,
        upright=not args.ignore_exif,
    )
    predictor = load_predictor(args.checkpoint, args.ctx, task="keypoints",
                               flip_test=args.flip_test, scales=args.scales)  # fmt: skip
    report = predict_folder(options, predictor)
    for path, reason in report["skipped"]:
        log.info("  skipped %s: %s", path, reason)
    log.info("%d image(s) predicted, %d skipped; results in %s", report["done"],
             len(report["skipped"]), args.output)  # fmt: skip
    return 0 if report["done"] else 1


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
