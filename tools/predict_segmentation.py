#!/usr/bin/env python
"""Segment a folder of images (or one image) with a trained checkpoint or an export folder.

Writes, per image, ``<name>_mask.png`` (class indices with a colour palette, at the image's
own resolution) and ``<name>_overlay.jpg``, plus ``class_fractions.json`` (each class's share
of the pixels). Unreadable files are reported and skipped.

    python tools/predict_segmentation.py --checkpoint runs/.../checkpoint_best.ckpt \
        --input photos/ --output predictions/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool, scale_list
from gluonext.common.logs import setup_logging
from gluonext.deploy.predictor import load_predictor
from gluonext.segmentation.predict import PredictOptions, predict_folder


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--checkpoint",
        required=True,
        help="a .ckpt written by train_segmentation.py, or a folder of tools/export_model.py",
    )
    p.add_argument("--input", required=True, help="an image file or a folder of images")
    p.add_argument("--output", required=True, help="folder for masks, overlays and the JSON")
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0")
    p.add_argument(
        "--size",
        type=int,
        default=None,
        help="the network sees the image letterboxed into SIZE x SIZE (default: the run's "
        "--base-size; an export folder: its own size); results are resized back to each "
        "image's size",
    )
    p.add_argument(
        "--scales", type=scale_list, default=(1.0,), help="multi-scale test, e.g. 0.75,1.0,1.25"
    )
    p.add_argument("--flip", action="store_true", help="add horizontally flipped inputs")
    p.add_argument("--alpha", type=float, default=0.5, help="overlay opacity")
    p.add_argument(
        "--annotations",
        default=None,
        help="only the images this COCO JSON lists, e.g. annotations/instances_val.json",
    )
    p.add_argument("--ignore-exif", action="store_true",
                   help="keep the stored pixel order (the annotations' frame) instead of turning "
                        "photos upright by their EXIF orientation")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "predict.log")
    options = PredictOptions(
        checkpoint=Path(args.checkpoint),
        input=Path(args.input),
        output=Path(args.output),
        alpha=args.alpha,
        progress=not args.no_progress,
        upright=not args.ignore_exif,
        annotations=Path(args.annotations) if args.annotations else None,
    )
    size = (args.size, args.size) if args.size else None
    predictor = load_predictor(args.checkpoint, args.ctx, input_size=size, task="segmentation",
                               flip=args.flip, scales=args.scales)  # fmt: skip
    report = predict_folder(options, predictor)
    log.info(
        "%d image(s) segmented, %d skipped; results in %s",
        report["done"],
        len(report["skipped"]),
        args.output,
    )
    for path, reason in report["skipped"]:
        log.info("  skipped %s: %s", path, reason)
    return 0 if report["done"] else 1


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
