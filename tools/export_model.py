#!/usr/bin/env python
"""Export a trained checkpoint as an MXNet symbol and an ONNX model, with parity checked,
and optionally as an INT8 ONNX model checked with the task's metric.

Writes into --output: ``model-symbol.json`` + ``model-0000.params`` (loadable with
``mx.gluon.SymbolBlock.imports`` without gluonext), ``model.onnx`` where the model family
converts (ONNX Runtime), ``model-int8.onnx`` with ``--format symbol,onnx,onnx-int8``, and
``model.json`` (task, classes, input size and normalisation, post-processing settings, the
checkpoint's epoch and metrics, the parity figures and the INT8 metric drop). Each form is
run on a few images beside the checkpoint's network before anything is written; a form whose
outputs or results differ is not written, and the reason is printed. The INT8 model is
calibrated on --calib-images training images of the checkpoint's own run and scored on its
held-out split beside the fp32 model (mIoU, VOC07 mAP or NE); it is refused when it loses
more than --max-drop points.

    python tools/export_model.py --checkpoint runs/.../checkpoint_best.ckpt --output exported/
    python tools/export_model.py --checkpoint runs/.../checkpoint_best.ckpt --output exported/ \
        --format symbol,onnx,onnx-int8 --calib-images 64 --max-drop 1
    python -c "from gluonext import load_predictor; print(load_predictor('exported/'))"
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import (
    image_size,
    non_negative_float,
    positive_float,
    positive_int,
    run_tool,
)
from gluonext.common.logs import setup_logging
from gluonext.deploy.export import DEFAULT_FORMATS, FORMATS, Int8Options, describe, export_model


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
    p.add_argument("--format", type=format_list, default=DEFAULT_FORMATS,
                   help="some of symbol,onnx,onnx-int8 (default symbol,onnx; onnx-int8 "
                   "quantizes the onnx model)")  # fmt: skip
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
    int8 = p.add_argument_group("onnx-int8")
    int8.add_argument("--calib-images", type=positive_int, default=64,
                      help="training images of the run to calibrate on (seeded draw)")
    int8.add_argument("--held-out-images", type=positive_int, default=200,
                      help="held-out images of the run to score fp32 and INT8 on")
    int8.add_argument("--max-drop", type=non_negative_float, default=1.0,
                      help="metric points INT8 may lose (mIoU, VOC07 mAP x100; NE in %%)")
    int8.add_argument("--data-root", default=None,
                      help="where the run's data is now (default: the checkpoint's --data-root)")
    return p.parse_args(argv)


def main(args) -> int:
    log = setup_logging(Path(args.output) / "export.log")
    report = export_model(
        Path(args.checkpoint), Path(args.output), args.format, args.input_size, args.images,
        args.tolerance,
        Int8Options(args.calib_images, args.held_out_images, args.max_drop, args.data_root),
    )  # fmt: skip
    for line in describe(report):
        log.info("%s", line)
    return 0 if set(args.format) <= set(report.written) else 1


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args(), "export_model"))
