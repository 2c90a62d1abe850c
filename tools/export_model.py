#!/usr/bin/env python
"""Export a trained checkpoint as an MXNet symbol and an ONNX model, with parity checked.

Writes into --output: ``model-symbol.json`` + ``model-0000.params`` (loadable with
``mx.gluon.SymbolBlock.imports`` without gluonext), ``model.onnx`` where the model family
converts (ONNX Runtime), and ``model.json`` (task, classes, input size and normalisation,
post-processing settings, the checkpoint's epoch and metrics, and the parity figures). Each
form is run on a few images beside the checkpoint's network before anything is written;
a form whose outputs or results differ is not written, and the reason is printed.

    python tools/export_model.py --checkpoint runs/.../checkpoint_best.ckpt --output exported/
    python -c "from gluonext import load_predictor; print(load_predictor('exported/'))"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import image_size, positive_float, run_tool
from gluonext.common.logs import setup_logging
from gluonext.deploy.export import FORMATS, describe, export_model


def format_list(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values or any(v not in FORMATS for v in values):
        raise argparse.ArgumentTypeError(f"expected some of {','.join(FORMATS)}, got {text!r}")
    return values


def height_width(text: str) -> tuple[int, int]:
    """``HxW`` (height first, as GluonCV's ``--input-size 256,192``) to (height, width)."""
    width, height = image_size(text, 16, 4096)  # parsed as two numbers; swap to H, W
    return width, height


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a .ckpt of any of the training scripts")
    p.add_argument("--output", required=True, help="the export folder")
    p.add_argument("--format", type=format_list, default=FORMATS, help="symbol,onnx (default both)")
    p.add_argument(
        "--input-size",
        type=height_width,
        default=None,
        help="HxW the exported network takes (default: the run's: segmentation --base-size "
        "square, keypoints --input-size, SSD/YOLO --data-shape)",
    )
    p.add_argument(
        "--images",
        nargs="*",
        default=None,
        help="images or folders for the parity check (default: the run's --data-root)",
    )
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=1e-4,
        help="largest raw-output difference, relative to the output's magnitude",
    )
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "export.log")
    report = export_model(
        Path(args.checkpoint), Path(args.output), args.format, args.input_size, args.images,
        args.tolerance,
    )  # fmt: skip
    for line in describe(report):
        log.info("%s", line)
    return 0 if set(args.format) <= set(report.written) else 1


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args(), "export_model"))
