#!/usr/bin/env python
"""Look at a dataset before training on it: what the training script will read, drawn and counted.

    python tools/inspect_dataset.py --dataset voc --data-root datasets/apparel_voc
    python tools/inspect_dataset.py --dataset coco --data-root datasets/imaterialist_sample
    python tools/inspect_dataset.py --dataset imaterialist_parts --data-root ... --output DIR

Opens the train and validation splits with the training scripts' own dataset classes and data
flags (so a layout the script cannot read fails here the same way) and writes to ``--output``:
``contact_sheet.jpg`` (``--num-images`` images of both splits with their annotations drawn as
training reads them), ``class_counts.csv`` / ``.png`` (objects per class and split; for
parsing, images showing the class), ``object_sizes.png`` (a histogram per split) and
``problems.json`` (the same picture in two splits by content hash, image and annotation sizes
that disagree, unreadable images, tiny or empty objects, images without labels, classes seen
in one split only, and what the dataset classes left out), with the table and a summary on
the console and in ``inspect.log``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import positive_int, run_tool
from gluonext.common.files import write_json
from gluonext.common.logs import setup_logging
from gluonext.errors import DatasetError
from gluonext.inspection.problems import find_problems, problem_counts
from gluonext.inspection.report import (
    bar_chart,
    class_counts,
    contact_sheet,
    counts_table,
    size_histogram,
    write_counts_csv,
)
from gluonext.inspection.sources import DATASETS, draw, items, open_splits

UNITS = {"boxes": "boxes", "instances": "instances", "parsing": "images showing the class",
         "keypoints": "garments"}  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--data-root", "--data_root", dest="data_root", required=True)
    p.add_argument("--output", default=None, help="default runs/inspect/<dataset>")
    p.add_argument("--num-images", type=positive_int, default=16, help="on the contact sheet")
    p.add_argument("--min-size", type=float, default=8.0,
                   help="objects under this many pixels (square root of the area) are tiny")
    data = p.add_argument_group("the training scripts' data flags")
    for flag in ("--image-dir", "--val-root", "--train-list", "--val-list", "--train-splits",
                 "--val-splits", "--train-json", "--val-json", "--train-csv", "--val-csv",
                 "--mask-dir", "--classes"):
        data.add_argument(flag, default=None)  # fmt: skip
    data.add_argument("--categories", default="all", help="coco: all, main or ids")
    data.add_argument("--category", default="all", help="fashionai: a garment or all")
    data.add_argument("--val-ratio", type=float, default=0.1, help="fashionai: held-out share")
    data.add_argument("--ignore-value", type=int, default=255, help="folder: mask value ignored")
    data.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def sample_pictures(kind, datasets: dict, views: dict, count: int) -> list:
    """(caption, drawn image) of ``count`` images spread evenly over each split (validation
    gets up to half, training the rest)."""
    val = min(count // 2, len(datasets["val"]))
    wanted = {"train": min(count - val, len(datasets["train"])), "val": val}
    pictures = []
    for split, dataset in datasets.items():
        n = wanted[split]
        for index in sorted({round(k * (len(dataset) - 1) / max(1, n - 1)) for k in range(n)}):
            try:
                drawn = draw(kind, dataset, index)
            except DatasetError:
                continue  # listed among the problems
            pictures.append((f"{split}: {views[split][index].image.name}", drawn))
    return pictures


def main(args) -> int:
    out = Path(args.output or Path("runs") / "inspect" / args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    log = setup_logging(out / "inspect.log")
    options = {k: v for k, v in vars(args).items() if k not in ("dataset", "data_root")}
    try:
        splits = open_splits(args.dataset, args.data_root, **options)
        datasets = {"train": splits.train, "val": splits.val}
        views = {name: items(splits.kind, dataset) for name, dataset in datasets.items()}
    except (DatasetError, OSError) as exc:
        log.error("error: %s", exc)
        return 2
    counts = class_counts(views)
    table = counts_table(counts, {split: len(view) for split, view in views.items()})
    log.info("%s at %s: %s per class and split\n%s", args.dataset, args.data_root,
             UNITS[splits.kind], table)  # fmt: skip
    write_counts_csv(out / "class_counts.csv", counts)
    bar_chart(out / "class_counts.png", counts, UNITS[splits.kind])
    size_histogram(out / "object_sizes.png", views, {"parsing": "class region"}.get(
        splits.kind, "object"))  # fmt: skip
    pictures = sample_pictures(splits.kind, datasets, views, args.num_images)
    contact_sheet(out / "contact_sheet.jpg", pictures)
    problems = find_problems(views, args.min_size)
    problems += [{"kind": "left out by the dataset reader", "split": reason.split(": ")[0],
                  "detail": f"{reason.split(': ', 1)[1]} ({count})"}
                 for reason, count in splits.left_out.items()]  # fmt: skip
    write_json(out / "problems.json", problems, indent=1)
    summary = problem_counts(problems)
    if summary:
        log.info("problems (all in problems.json):")
        for kind, count in sorted(summary.items()):
            first = next(p for p in problems if p["kind"] == kind)
            example = first.get("file") or first.get("class", "")
            log.info("  %-32s %6d  e.g. %s %s", kind, count, Path(example).name if
                     first.get("file") else example, first["detail"])  # fmt: skip
    else:
        log.info("no problems found")
    log.info("wrote contact_sheet.jpg, class_counts.csv/.png, object_sizes.png and "
             "problems.json in %s", out)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
