#!/usr/bin/env python
"""Tune Mask R-CNN's post-processing for the iMaterialist competition's score on the run's
validation split: the lowest score submitted, the mask threshold, same-class suppression
(mask IoU) and the smallest mask kept.

The network runs once per validation image; each setting is swept in turn over its grid (the
others held) for two passes, from the defaults (score 0.5, mask 0.5, no suppression, any
size). Writes ``thresholds.json`` beside the checkpoint, where ``load_predictor`` (and so
predict_instances.py, the export and the server: mask threshold and suppression) and
``imaterialist_submission.py --thresholds`` (score and smallest mask) read them, and
``tune_thresholds.png``: the score against each setting. The gain is also measured on images
the tuning did not see (tuned on half, scored on the other half, both ways).

    python tools/tune_thresholds.py --checkpoint runs/mask_rcnn/.../checkpoint_best.ckpt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import positive_int, run_tool
from gluonext.common.logs import setup_logging
from gluonext.errors import ModelError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a .ckpt written by train_mask_rcnn.py")
    p.add_argument("--data-root", default=None,
                   help="where the run's data is now (default: the checkpoint's --data-root)")
    p.add_argument("--output", default=None,
                   help="the thresholds file (default: thresholds.json beside the checkpoint)")
    p.add_argument("--max-images", type=positive_int, default=None,
                   help="tune on the first N validation images (default: all)")
    p.add_argument("--rounds", type=positive_int, default=2, help="passes over the settings")
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(args) -> int:
    from tqdm import tqdm

    from gluonext.deploy.held_out import run_data
    from gluonext.deploy.predictor import load_predictor
    from gluonext.instance.postprocess import DEFAULTS, SETTINGS_FILE, write_settings
    from gluonext.instance.tuning import GRID, collect, cross_check, plot_curves, tune

    checkpoint = Path(args.checkpoint)
    if not checkpoint.is_file():
        raise ModelError(f"--checkpoint {checkpoint}: no such file (a .ckpt of train_mask_rcnn.py)")
    output = Path(args.output) if args.output else checkpoint.parent / SETTINGS_FILE
    log = setup_logging(output.with_suffix(".log"))
    predictor = load_predictor(checkpoint, args.ctx, task="instances")
    validation_set = run_data(checkpoint, args.data_root).held_out
    show = not args.no_progress
    validation = collect(predictor, validation_set, args.max_images,
                         lambda it: tqdm(it, desc="network", disable=not show))  # fmt: skip
    bar = tqdm(desc="settings scored", disable=not show)
    tuned = tune(validation, rounds=args.rounds, progress=lambda n: bar.update(1))
    bar.close()
    check = cross_check(validation, rounds=args.rounds)
    report = {
        "validation_score": {"default": round(tuned.default_score, 4),
                             "tuned": round(tuned.score, 4)},
        "unseen_halves": {k: round(v, 4) for k, v in check.items() if k != "per_half"},
        "defaults": DEFAULTS.as_dict(),
        "grid": {k: list(v) for k, v in GRID.items()},
        "images": len(validation.images),
        "checkpoint": str(checkpoint),
        "curves": {k: [[v, round(s, 4)] for v, s in c] for k, c in tuned.curves.items()},
    }  # fmt: skip
    write_settings(output, tuned.settings, report)
    picture = output.with_name("tune_thresholds.png")
    plot_curves(tuned, picture, f"{checkpoint.parent.name}: competition score on "
                f"{len(validation.images)} validation images")  # fmt: skip
    log.info("competition score on %d validation images: %.4f with the defaults (%s), %.4f "
             "tuned (%s)", len(validation.images), tuned.default_score, _text(DEFAULTS),
             tuned.score, _text(tuned.settings))  # fmt: skip
    log.info("on halves the tuning did not see: %.4f default, %.4f tuned", check["default"],
             check["tuned"])  # fmt: skip
    log.info("written %s and %s", output, picture)
    return 0


def _text(settings) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in settings.as_dict().items())


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args()))
