#!/usr/bin/env python
"""Convert iMaterialist (Fashion) 2019 train.csv into COCO instance JSON (train / val split).

python tools/convert_imaterialist_to_coco.py --data-root datasets/imaterialist
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gluonext.common.cli import image_size, run_tool
from gluonext.common.logs import setup_logging
from gluonext.formats.imaterialist import LabelDescriptionError
from gluonext.formats.imaterialist_coco import (
    ConversionError,
    ConvertOptions,
    convert,
    format_summary,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-root",
        "--data_root",
        dest="data_root",
        required=True,
        help="folder holding train.csv, label_descriptions.json and train/",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where the JSON files go (default: <data-root>/annotations)",
    )
    parser.add_argument(
        "--val-num",
        type=int,
        default=1000,
        help="images held out for validation (capped at the data)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument(
        "--categories",
        default="all",
        help="'all' (46), 'main' (the 13 main apparel) or ids like 0,1,10",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes converting rows (default: cores, at most 4)",
    )
    parser.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="stop at the first bad row, or skip bad rows and list them in "
        "annotations/rejected_rows.csv",
    )
    parser.add_argument(
        "--check-images",
        action="store_true",
        help="read each image header: fix rows whose Height/Width are swapped, "
        "reject rows whose size disagrees or whose image is missing",
    )
    parser.add_argument(
        "--resize-val",
        type=image_size,
        default=None,
        metavar="W,H",
        help="also write instances_val_<W>x<H>.json with masks resized to W,H",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> int:
    root = Path(args.data_root)
    out_dir = Path(args.output_dir) if args.output_dir else root / "annotations"
    log = setup_logging(out_dir / "convert.log" if root.is_dir() else None)
    options = ConvertOptions(
        data_root=root,
        output_dir=out_dir,
        val_num=args.val_num,
        seed=args.seed,
        categories=args.categories,
        workers=max(1, args.workers),
        on_error=args.on_error,
        check_images=args.check_images,
        resize_val=args.resize_val,
        progress=not args.no_progress,
    )
    try:
        report = convert(options)
    except (ConversionError, LabelDescriptionError) as exc:
        log.error("error: %s", exc)
        return 2
    log.info("%s", format_summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
