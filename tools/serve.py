#!/usr/bin/env python
"""Serve trained models to a browser page and a JSON API (Starlette on uvicorn).

Each --model is a .ckpt of any training script or a folder of tools/export_model.py,
optionally named (NAME=PATH; by default the checkpoint's run folder or the export folder's
name). Open http://127.0.0.1:8080/ and drop a photo; or call the API:

    python tools/serve.py --model parts=runs/parts/checkpoint_best.ckpt --model exported/boxes
    curl -F image=@photo.jpg 'http://127.0.0.1:8080/predict/parts?overlay=1'

GET /health, GET /models, POST /predict/<model> (multipart field ``image``; ``category`` for
keypoint models; ``?overlay=1`` adds the drawn overlay as a base64 PNG and its legend). Images
above --max-megapixels are refused from their header (413), more than --max-queue requests at
once get 503 with Retry-After. --flip-test and --scales add test-time passes to the models
that have them (segmentation, instances, keypoints), as the scripts' flags of the same names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import positive_float, positive_int, run_tool, scale_list
from gluonext.common.logs import setup_logging
from gluonext.errors import ModelError


def model_argument(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` to (name, path)."""
    name, _, path = text.rpartition("=")
    path = Path(path)
    if not name:
        name = path.parent.name if path.is_file() else path.name
    return name, path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", type=model_argument, required=True,
                   help="[NAME=]PATH of a .ckpt or an export folder; repeat for more")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--ctx", default="cpu", help="cpu or gpu:0, for .ckpt and symbol models")
    p.add_argument("--backend", choices=("gluon", "symbol", "onnx", "onnx-int8"), default=None,
                   help="how to run export folders (default: onnx where present)")  # fmt: skip
    p.add_argument("--max-upload-mb", type=positive_float, default=10.0)
    p.add_argument("--max-megapixels", type=positive_float, default=40.0,
                   help="refuse (413) images whose header declares more pixels, before "
                   "decoding them (decompression bombs)")  # fmt: skip
    p.add_argument("--max-queue", type=positive_int, default=8,
                   help="requests decoded or predicted at once; more get 503 with "
                   "Retry-After (bounds memory)")  # fmt: skip
    p.add_argument("--ignore-exif", action="store_true",
                   help="predict on uploads' stored pixel order instead of turning photos "
                   "upright by their EXIF orientation")  # fmt: skip
    p.add_argument("--min-score", type=float, default=None,
                   help="lowest score detection and instance models return (default 0.05)")
    p.add_argument("--flip-test", action="store_true",
                   help="add the mirrored image to every prediction of segmentation, instance "
                   "and keypoint models (detection models have no test-time passes)")  # fmt: skip
    p.add_argument("--scales", type=scale_list, default=(1.0,),
                   help="test-time scales for segmentation (.ckpt only), instance and keypoint "
                   "models, e.g. 0.8,1,1.25 (default 1)")  # fmt: skip
    p.add_argument("--log", default="serve.log", help="log file")
    return p.parse_args(argv)


def load_models(args) -> dict:
    from gluonext.deploy.predictor import load_predictor

    models = {}
    for name, path in args.model:
        if name in models:
            raise ModelError(f"--model {name}={path}: the name {name!r} is taken; use NAME=PATH")
        backend = args.backend if path.is_dir() else None
        models[name] = load_predictor(path, args.ctx, backend=backend)
        if args.min_score is not None and hasattr(models[name], "min_score"):
            models[name].min_score = args.min_score
        set_test_time_passes(name, models[name], args.flip_test, tuple(args.scales))
    return models


def set_test_time_passes(name: str, predictor, flip: bool, scales: tuple) -> None:
    """``--flip-test`` and ``--scales`` on a loaded predictor, under each task's own name for
    them; a network exported for one input size refuses other scales here, not per request."""
    if predictor.task == "detection":
        return  # GluonCV's detection scripts have no test-time passes; logged by main
    if predictor.task == "segmentation":
        if scales != (1.0,) and predictor.runner.name != "gluon":
            raise ModelError(f"--model {name}: --scales needs a .ckpt; an exported segmentation "
                             "network has one input size")  # fmt: skip
        predictor.flip = flip
    else:
        predictor.flip_test = flip
    predictor.scales = scales


def main(args) -> int:
    import uvicorn

    from gluonext.deploy.server import create_app

    log = setup_logging(Path(args.log))
    models = load_models(args)
    for name, predictor in models.items():
        log.info("model %s: %s, %s, %d classes", name, predictor.task, predictor.runner.name,
                 len(predictor.classes))  # fmt: skip
        if predictor.task == "detection" and (args.flip_test or tuple(args.scales) != (1.0,)):
            log.info("model %s: detection, served without --flip-test/--scales", name)
    app = create_app(models, int(args.max_upload_mb * 2**20), args.max_megapixels, args.max_queue,
                     not args.ignore_exif)  # fmt: skip
    log.info("serving on http://%s:%d/", args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args(), "serve"))
