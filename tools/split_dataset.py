#!/usr/bin/env python
"""Split a LabelImg folder by image into train and test (the apparel project's 4:1), with its table.

Writes ``train.txt`` / ``test.txt`` (image stems, for ``train_detection.py --train-list``),
``train_labels.csv`` / ``test_labels.csv`` (the apparel project's box CSVs) and ``split_table.csv``
(boxes per class in train, test and total), and prints the table. The five files are
replaced together: a kill at any moment leaves the previous split or the new one.

    python tools/split_dataset.py --input datasets/apparel_voc --ratio 0.8 --seed 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import run_tool
from gluonext.common.files import finish_publish, publish_together, staging_folder
from gluonext.common.logs import setup_logging
from gluonext.common.splits import split_by_image
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import read_class_list, scan_voc_folder
from gluonext.formats.labelimg_tables import (
    csv_rows,
    format_table,
    split_table,
    write_csv,
    write_lines,
    write_table_csv,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True,
                   help="folder of Pascal VOC .xml (LabelImg, VOC20xx, Roboflow export)")
    p.add_argument("--output", default=None, help="where the lists go (default: --input)")
    p.add_argument("--ratio", type=float, default=0.8, help="share of images for training")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-dir", default=None,
                   help="the images' folder when the XML are elsewhere (LabelImg's save dir)")
    p.add_argument("--classes", default=None, help="file with one class name per line")
    p.add_argument("--skip-bad", action="store_true", help="leave bad files/boxes out, counted")
    return p.parse_args(argv)


def main(args) -> int:
    out = Path(args.output or args.input)
    log = setup_logging(out / "split_dataset.log")
    try:
        records, report = scan_voc_folder(
            args.input, read_class_list(args.classes), args.skip_bad, image_dir=args.image_dir
        )
        train, test = split_by_image([r.stem for r in records], args.ratio, args.seed)
    except (DatasetError, ValueError, OSError) as exc:
        log.error("error: %s", exc)
        return 2
    table = split_table(records, train, test)
    finish_publish(out)  # a split a kill interrupted: completed, then replaced
    staging = staging_folder(out)
    write_lines(staging / "train.txt", train)
    write_lines(staging / "test.txt", test)
    side = set(train)
    write_csv(staging / "train_labels.csv", csv_rows([r for r in records if r.stem in side]))
    write_csv(staging / "test_labels.csv", csv_rows([r for r in records if r.stem not in side]))
    write_table_csv(staging / "split_table.csv", table)
    publish_together(out, staging)  # the five files change together or not at all
    log.info("%s\n%s", report.summary(), format_table(table, (len(train), len(test))))
    log.info("wrote train.txt, test.txt, *_labels.csv and split_table.csv in %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
