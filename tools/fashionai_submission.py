#!/usr/bin/env python
"""Merge per-category FashionAI result files (tools/predict_keypoints.py's keypoints.csv) into
one submission, matched by image_id.

With ``--test-csv`` the rows follow the test list, every test image must have a prediction
(or ``--allow-missing`` writes ``-1_-1_-1`` rows and lists them), categories must agree, and
predictions of images outside the list are refused. An image predicted by two files is an
error naming both.

    python tools/fashionai_submission.py --results predictions/*/keypoints.csv \
        --test-csv datasets/fashionai/test/test.csv --output submission.csv
"""

from __future__ import annotations

import argparse
import logging
import sys

from gluonext.common.cli import run_tool
from gluonext.errors import DatasetError
from gluonext.keypoints.submission import merge_results, read_test_list, write_submission

log = logging.getLogger("fashionai_submission")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", nargs="+", required=True, help="26-column result CSVs")
    p.add_argument("--test-csv", default=None, help="the test list fixing rows and their order")
    p.add_argument("--output", required=True, help="submission CSV to write")
    p.add_argument("--allow-missing", action="store_true", help="absent rows for unpredicted")
    return p.parse_args(argv)


def main(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        order = read_test_list(args.test_csv) if args.test_csv else None
        rows, missing = merge_results(args.results, order, args.allow_missing)
    except DatasetError as exc:
        log.error("error: %s", exc)
        return 2
    write_submission(args.output, rows)
    for image_id in missing:
        log.info("  no prediction: %s", image_id)
    log.info("%d rows from %d files written to %s%s", len(rows), len(args.results), args.output,
             f" ({len(missing)} without a prediction)" if missing else "")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
