#!/usr/bin/env python
"""Pretrain a GluonCV ImageNet backbone on garment pictures, for --pretrained-base.

Trains GluonCV's own classifier (its ImageNet layout: the same parameter names and shapes as
the model zoo's .params files) to say which of the 13 main garments a picture shows, on an
iMaterialist-format folder (``--data``; by default sample data made for it with
tools/make_sample_data.py), within ``--minutes``; prints its held-out label accuracy and mean
AP beside a predictor that only knows how often each garment occurs, and writes FILE and
FILE's .json report. No network is needed.

    python tools/pretrain_backbone.py --network resnet18_v1b --output weights/resnet18_v1b.params
    python train_segmentation.py --backbone resnet18 --pretrained-base weights/resnet18_v1b.params
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from gluonext.common.cli import positive_float, positive_int, run_tool
from gluonext.common.logs import setup_logging
from gluonext.errors import GluonextError
from gluonext.pretrain.data import PRETRAINING_STREAM
from gluonext.pretrain.train import NETWORKS, PretrainOptions, pretrain

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", required=True, choices=NETWORKS)
    p.add_argument("--output", required=True, help="the .params file to write")
    p.add_argument("--data", default=None, help="an iMaterialist-format folder (train.csv, train/)")
    p.add_argument("--num-images", type=positive_int, default=8000,
                   help="sample data to make (about 50 s for 8,000; 1,200 overfit within "
                        "minutes)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--minutes", type=positive_float, default=10.0, help="training time budget")
    p.add_argument("--max-epochs", type=positive_int, default=1000)
    p.add_argument("--input-size", type=positive_int, default=96, help="square input side")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=0.002)
    p.add_argument("--ctx", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def sample_data(args) -> Path:
    """Generated garment pictures for the pretraining, from the generator's pretraining stream
    (no sample dataset of any seed contains them; made once per seed and count)."""
    name = f"pretrain_sample_{args.seed}_{args.num_images}_stream{PRETRAINING_STREAM}"
    folder = REPO / "datasets" / name
    if not (folder / "train.csv").is_file():
        command = [sys.executable, str(REPO / "tools" / "make_sample_data.py"), "--format",
                   "imaterialist", "--output", str(folder), "--num-images", str(args.num_images),
                   "--image-size", "96x128", "--seed", str(args.seed),
                   "--stream", str(PRETRAINING_STREAM)]  # fmt: skip
        subprocess.run(command, check=True)
    return folder


def main(args) -> int:
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)  # an unwritable place fails now, not later
    log = setup_logging(output.parent / "pretrain.log")
    try:
        report = pretrain(
            PretrainOptions(
                network=args.network,
                output=output,
                data=Path(args.data or sample_data(args)),
                seed=args.seed,
                minutes=args.minutes,
                max_epochs=args.max_epochs,
                size=args.input_size,
                batch_size=args.batch_size,
                lr=args.lr,
                ctx=args.ctx,
                progress=not args.no_progress,
            )  # fmt: skip
        )
    except GluonextError as exc:
        log.error("error: %s", exc)
        return 2
    ours, theirs = report["held_out"], report["frequency_baseline"]
    log.info(
        "%s: %d epochs in %.0f s on %d images; held out (%d images): label accuracy %.3f "
        "(frequencies alone %.3f), mean AP %.3f (%.3f); wrote %s",
        args.network, report["epochs"], report["seconds"], report["train_images"],
        report["held_out_images"], ours["label_accuracy"], theirs["label_accuracy"],
        ours["mean_ap"], theirs["mean_ap"], output,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
