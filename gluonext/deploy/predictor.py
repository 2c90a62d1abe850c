"""``load_predictor``: a checkpoint or an export folder in, a callable predictor out."""

from __future__ import annotations

import json
from pathlib import Path

from gluonext.common.files import finish_publish
from gluonext.detection.inference import DetectionPredictor
from gluonext.engine.checkpoint import read_meta
from gluonext.engine.devices import parse_contexts
from gluonext.engine.export import INT8, ONNX, SYMBOL
from gluonext.engine.runners import OnnxRunner, SymbolRunner
from gluonext.errors import CheckpointError, ModelError
from gluonext.instance.inference import InstancePredictor
from gluonext.keypoints.inference import KeypointPredictor
from gluonext.segmentation.inference import SegmentationPredictor

PREDICTORS = {
    "segmentation": SegmentationPredictor,
    "instances": InstancePredictor,
    "detection": DetectionPredictor,
    "keypoints": KeypointPredictor,
}
SPEC = "model.json"
BACKENDS = ("gluon", "symbol", "onnx", "onnx-int8")


def task_of_checkpoint(meta: dict, path) -> str:
    """Which training script wrote a checkpoint, from its ``meta``."""
    if "nclass" in meta:
        return "segmentation"
    if "category_ids" in meta:
        return "instances"
    if "joints" in meta:
        return "keypoints"
    if meta.get("model") in ("ssd", "yolo3", "faster_rcnn"):
        return "detection"
    raise CheckpointError(f"{path}: a checkpoint of none of the four training scripts")


def _check_task(path, found: str, wanted: str | None) -> None:
    if wanted is not None and found != wanted:
        raise CheckpointError(f"{path}: a {found} model, not a {wanted} one")


def read_spec(folder: Path) -> dict:
    folder = Path(folder)
    finish_publish(folder, clean=False)  # an export a kill interrupted: roll it forward
    try:
        spec = json.loads((folder / SPEC).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"{folder / SPEC}: not a readable export description ({exc})"
        ) from None
    if spec.get("task") not in PREDICTORS:
        raise CheckpointError(f"{folder / SPEC}: unknown task {spec.get('task')!r}")
    return spec


def load_predictor(path, ctx: str = "cpu", backend: str | None = None, input_size=None,
                   task: str | None = None, **options):  # fmt: skip
    """A predictor for ``path``: a ``.ckpt`` of any training script (run as Gluon) or a folder
    written by ``tools/export_model.py`` (ONNX Runtime when it holds ``model.onnx``, else the
    MXNet symbol; ``backend`` picks one, ``onnx-int8`` the quantized model).
    ``predictor(image_rgb)`` returns the task's result, with ``draw(image)`` and
    ``to_json()``. ``options`` go to the task's predictor (``min_score``, ``flip``,
    ``scales``, ``flip_test``); ``task`` refuses a model of another task."""
    path = Path(path)
    if backend is not None and backend not in BACKENDS:
        raise ModelError(f"backend {backend!r}: choose from {', '.join(BACKENDS)}")
    context = parse_contexts(ctx=ctx)[0]
    if path.is_file():
        if backend not in (None, "gluon"):
            raise ModelError(f"{path}: a checkpoint runs as gluon; export it for {backend}")
        found = task_of_checkpoint(read_meta(path), path)
        _check_task(path, found, task)
        return PREDICTORS[found].from_checkpoint(path, context, input_size, **options)
    if not (path / SPEC).is_file():
        raise CheckpointError(
            f"{path}: neither a .ckpt file nor an export folder (no {SPEC}); see "
            "tools/export_model.py"
        )
    spec = read_spec(path)
    _check_task(path, spec["task"], task)
    if spec["task"] == "instances":  # thresholds tuned on the export itself
        from gluonext.instance.postprocess import settings_beside

        tuned = settings_beside(path)
        if tuned is not None:
            spec["postprocess"] = tuned.as_dict()
    if input_size and tuple(input_size) != (spec["input"]["height"], spec["input"]["width"]):
        raise ModelError(
            f"{path}: exported for {spec['input']['height']}x{spec['input']['width']} input; "
            f"export again with --input-size {input_size[0]}x{input_size[1]}"
        )
    has_onnx = (path / ONNX).is_file()
    chosen = backend or ("onnx" if has_onnx else "symbol")
    if chosen == "onnx" and not has_onnx:
        raise ModelError(
            f"{path}: has no {ONNX} ({spec.get('onnx', {}).get('reason', 'not exported')})"
        )
    if chosen == "onnx-int8" and not (path / INT8).is_file():
        raise ModelError(
            f"{path}: has no {INT8} "
            f"({spec.get('onnx-int8', {}).get('reason', 'export with --format onnx-int8')})"
        )
    if chosen == "gluon":
        raise ModelError(f"{path}: an export folder runs as symbol or onnx, not gluon")
    if chosen == "symbol" and not (path / SYMBOL).is_file():
        raise ModelError(f"{path}: has no {SYMBOL}")
    if chosen == "symbol":
        runner = SymbolRunner(path, context)
    else:
        runner = OnnxRunner(path / (INT8 if chosen == "onnx-int8" else ONNX))
    return PREDICTORS[spec["task"]](runner, spec, **options)
