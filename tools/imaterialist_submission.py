#!/usr/bin/env python
"""Turn Mask R-CNN predictions into the iMaterialist Kaggle submission CSV (2019 or 2020).

Reads ``predictions.json`` from tools/predict_instances.py and writes
``ImageId,EncodedPixels,ClassId`` rows: Kaggle RLE (column-major, 1-indexed, as train.csv),
masks of one image made non-overlapping (higher scores keep their pixels); ClassId is the
category, followed by the predicted attributes (``6_28_77``, as train.csv) for a model trained
with ``--attributes``. ``--edition 2020`` writes FGVC7's layout instead:
``ImageId,EncodedPixels,ClassId,AttributesIds``, ImageId without its suffix, ClassId the
category alone, the attributes comma-separated.

    python tools/imaterialist_submission.py --predictions predictions/predictions.json \
        --output submission.csv --threshold 0.5 [--ground-truth held_out.csv]
    python tools/imaterialist_submission.py --predictions predictions/predictions.json \
        --output submission.csv --thresholds runs/mask_rcnn/.../thresholds.json

``--thresholds`` takes the score threshold and smallest mask that tools/tune_thresholds.py
chose (predict with the same checkpoint: its mask threshold and suppression are applied
there).

With ``--ground-truth`` (the competition's train.csv layout, rows of the predicted images) it
also prints the score the competition would give (``gluonext.instance.competition``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gluonext.common.cli import run_tool
from gluonext.common.images import IMAGE_SUFFIXES
from gluonext.common.logs import setup_logging
from gluonext.errors import DatasetError
from gluonext.instance.competition import competition_score
from gluonext.instance.postprocess import DEFAULTS, read_settings
from gluonext.instance.submission import (
    EDITIONS,
    SubmissionError,
    submission_rows,
    write_submission,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--predictions", required=True, help="predictions.json of predict_instances")
    p.add_argument("--output", required=True, help="the submission CSV to write")
    p.add_argument("--threshold", type=float, default=None,
                   help="lowest score submitted (default 0.5, or the --thresholds file's)")
    p.add_argument("--min-area", type=int, default=None,
                   help="pixels a mask must keep (default 1, or the --thresholds file's)")
    p.add_argument("--thresholds", default=None,
                   help="thresholds.json of tools/tune_thresholds.py")
    p.add_argument(
        "--images", default=None, help="folder of the test images: report those with no row"
    )
    p.add_argument("--edition", type=int, choices=EDITIONS, default=2019,
                   help="the competition's year: 2019 (FGVC6, ClassId 6_28_77) or 2020 (FGVC7, "
                   "ClassId and an AttributesIds column)")  # fmt: skip
    p.add_argument("--ground-truth", default=None,
                   help="CSV in train.csv's layout for the predicted images: print the "
                   "competition's score")  # fmt: skip
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output).with_suffix(".log"))
    if args.images and not Path(args.images).is_dir():
        log.error("error: --images %s: no such folder", args.images)
        return 2
    try:
        tuned = DEFAULTS
        if args.thresholds:
            tuned = read_settings(args.thresholds)
            if tuned is None:
                raise SubmissionError(f"--thresholds {args.thresholds}: no such file")
        if args.threshold is None:
            args.threshold = tuned.score
        if args.min_area is None:
            args.min_area = tuned.min_area
        records = json.loads(Path(args.predictions).read_text(encoding="utf-8"))
        if not isinstance(records, list):
            raise SubmissionError(f"{args.predictions}: expected a list of COCO results")
        rows, report = submission_rows(records, args.threshold, args.min_area, args.edition)
    except (OSError, json.JSONDecodeError, DatasetError) as exc:
        log.error("error: %s", exc)
        return 2
    write_submission(args.output, rows, args.edition)
    log.info(
        "%s: %d rows for %d images (%d predictions below %.2f, %d covered by better masks)",
        args.output,
        report.rows,
        report.images,
        report.below_threshold,
        args.threshold,
        report.swallowed,
    )
    if args.images:
        names = {p.name for p in Path(args.images).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        missing = sorted(names - {row[0] for row in rows})
        log.info("%d of %d images in %s have no row", len(missing), len(names), args.images)
    if args.ground_truth:
        try:
            result = competition_score(args.ground_truth, args.output)
        except DatasetError as exc:
            log.error("error: %s", exc)
            return 2
        log.info("competition score %.4f over %d (image, class) pairs; per class: %s",
                 result.score, result.pairs, ", ".join(
                     f"{c}: {v:.3f}" for c, v in result.per_class.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
