#!/usr/bin/env python
"""Flatten a folder of LabelImg (Pascal VOC) XML files into the apparel project's box CSV.

One row per box: ``filename,width,height,class,xmin,ymin,xmax,ymax`` (the XML's own numbers),
and a per-class count table on the console.

    python tools/voc_to_csv.py --input datasets/apparel_voc --output datasets/apparel_voc/labels.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool
from gluonext.common.logs import setup_logging
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import class_counts, read_class_list, scan_voc_folder
from gluonext.formats.labelimg_tables import csv_rows, write_csv


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True,
                   help="folder of Pascal VOC .xml (LabelImg, VOC20xx, Roboflow export)")
    p.add_argument("--output", required=True, help="the CSV to write")
    p.add_argument("--image-dir", default=None,
                   help="the images' folder when the XML are elsewhere (LabelImg's save dir)")
    p.add_argument("--classes", default=None, help="file with one class name per line")
    p.add_argument("--skip-bad", action="store_true", help="leave bad files/boxes out, counted")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output).with_suffix(".log"))
    try:
        records, report = scan_voc_folder(
            args.input, read_class_list(args.classes), args.skip_bad, image_dir=args.image_dir
        )
    except (DatasetError, OSError) as exc:
        log.error("error: %s", exc)
        return 2
    rows = csv_rows(records)
    write_csv(args.output, rows)
    counts = class_counts(records)
    table = "\n".join(f"  {name:<24}{count:>7}" for name, count in sorted(counts.items()))
    log.info("%s: %d boxes in %d images (%s)\n%s", args.output, len(rows), len(records),
             report.summary(), table)  # fmt: skip
    for path, reason in report.skipped_files:
        log.info("  skipped %s: %s", path, reason)
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
