"""``export_model``: a checkpoint to a folder that runs without gluonext's training code.

The folder holds ``model-symbol.json`` + ``model-0000.params`` (``gluon.SymbolBlock.imports``),
``model.onnx`` where the family converts, and ``model.json``: the task, classes, input size,
normalisation, post-processing settings, the checkpoint's epoch and metrics, and the parity
figures measured here. Before anything is published, each exported form runs on the parity
images next to the checkpoint's Gluon network: raw outputs must agree within ``tolerance``
(relative to the output's magnitude) and the final results (class maps, boxes and labels,
keypoints) must be the same; a form that fails is not written, with the reason. All files
are published together: a kill leaves the old export or the new one.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gluonext.common.files import finish_publish, publish_together, staging_folder, write_json
from gluonext.common.images import IMAGE_SUFFIXES, read_rgb
from gluonext.deploy.predictor import PREDICTORS, SPEC, load_predictor
from gluonext.engine.export import (
    ONNX,
    PARAMS,
    SYMBOL,
    OnnxUnsupported,
    export_onnx,
    export_symbol,
    max_differences,
)
from gluonext.engine.runners import OnnxRunner, SymbolRunner
from gluonext.errors import DatasetError, ModelError

FORMATS = ("symbol", "onnx")
log = logging.getLogger(__name__)


@dataclass
class ExportReport:
    folder: Path
    task: str
    written: list[str] = field(default_factory=list)
    parity: dict = field(
        default_factory=dict
    )  # format -> {"max_abs_diff": [...], "same_results": bool}
    refused: dict = field(default_factory=dict)  # format -> one-line reason


def parity_images(paths, data_root=None, count: int = 4) -> list[np.ndarray]:
    """RGB images for the parity check: ``paths`` (files or folders), else the first images
    under the run's data root; an error if there are none."""
    files = []
    for path in map(Path, paths or []):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"--images {path}: no such file or folder")
    if paths and not files:
        raise DatasetError(f"--images {' '.join(map(str, paths))}: no image files there")
    if not files and data_root and Path(data_root).is_dir():
        files = sorted(p for p in Path(data_root).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    images = []
    for path in files:
        try:
            images.append(read_rgb(path))
        except OSError:
            continue
        if len(images) == count:
            break
    if not images:
        raise DatasetError(
            "no images for the parity check: give --images (a few photos like the training data)"
        )
    return images


def _close(a, b, atol: float) -> bool:
    """Two results' JSON alike: same keys, strings and integers; floats within ``atol``."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], atol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, atol) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= atol
    return a == b


SHOWN_SCORE = 0.25  # detections compared one by one from this score up
SCORE_SLACK = 1e-3


def _found_in(result, k, other, task) -> bool:
    for j in range(len(other.scores)):
        if (other.class_ids[j] == result.class_ids[k]
                and abs(other.scores[j] - result.scores[k]) <= SCORE_SLACK
                and np.abs(other.boxes[j] - result.boxes[k]).max() <= 0.05):  # fmt: skip
            if task != "instances":
                return True
            a, b = result.masks[:, :, k].astype(bool), other.masks[:, :, j].astype(bool)
            union = np.logical_or(a, b).sum()
            return union == 0 or np.logical_and(a, b).sum() / union >= 0.99
    return False


def same_results(task: str, ours, theirs) -> bool:
    """The results a user sees agree: identical class maps; keypoints within 0.05 pixel;
    every box (and mask) scored 0.25 or more in one found in the other with the same label,
    corners within 0.05 pixel and score within 1e-3. (Below that, a network that is
    still unsure gives many candidates whose scores differ by 1e-7, and the order in which
    NMS and the top-k cut take them follows noise of that size.)"""
    if task == "segmentation":
        return bool(np.array_equal(ours.class_map, theirs.class_map))
    if task == "keypoints":
        return _close(ours.to_json(), theirs.to_json(), atol=0.05)
    for a, b in ((ours, theirs), (theirs, ours)):
        for k in range(len(a.scores)):
            if a.scores[k] >= SHOWN_SCORE + SCORE_SLACK and not _found_in(a, k, b, task):
                return False
    return True


def _magnitude(array: np.ndarray) -> float:
    finite = np.abs(array[np.isfinite(array)])
    return float(finite.max()) if finite.size else 0.0


def compare(reference, other, images, tolerance: float) -> dict:
    """Raw-output differences and result agreement of ``other`` against ``reference``."""
    worst, scales, agree = None, None, True
    for image in images:
        ref, out = reference.network_outputs(image), other.network_outputs(image)
        diffs = max_differences(ref, out)
        sizes = [_magnitude(r) for r in ref]
        worst = diffs if worst is None else [max(a, b) for a, b in zip(worst, diffs, strict=True)]
        scales = (
            sizes if scales is None else [max(a, b) for a, b in zip(scales, sizes, strict=True)]
        )
        agree = agree and same_results(reference.task, reference(image), other(image))
    within = all(d <= tolerance * max(1.0, s) for d, s in zip(worst, scales, strict=True))
    return {
        "max_abs_diff": [float(f"{d:.3g}") for d in worst],
        "output_magnitude": [float(f"{s:.3g}") for s in scales],
        "tolerance": tolerance,
        "within_tolerance": within,
        "same_results": bool(agree),
        "images": len(images),
    }


def export_model(
    checkpoint,
    output,
    formats=FORMATS,
    input_size=None,
    images=None,
    tolerance: float = 1e-4,
) -> ExportReport:
    """Export ``checkpoint`` into ``output`` (see the module's description)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ModelError(f"--format {','.join(formats)}: choose from {','.join(FORMATS)}")
    reference = load_predictor(checkpoint, input_size=input_size)
    from gluonext.engine.checkpoint import read_meta

    data_root = read_meta(checkpoint).get("args", {}).get("data_root")
    pictures = parity_images(images, data_root)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    finish_publish(output)
    report = ExportReport(output, reference.task)
    staging = staging_folder(output)
    try:
        _write_forms(reference, staging, formats, pictures, tolerance, report)
        spec = dict(reference.spec)
        spec["files"] = {"symbol": SYMBOL, "params": PARAMS,
                         **({"onnx": ONNX} if "onnx" in report.written else {})}  # fmt: skip
        spec["parity"] = report.parity
        if "onnx" in report.refused:
            spec["onnx"] = {"reason": report.refused["onnx"]}
        write_json(staging / SPEC, spec, indent=2)
        stale = [ONNX] if "onnx" not in report.written else []
        publish_together(output, staging, deletes=stale)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_forms(reference, staging: Path, formats, pictures, tolerance, report) -> None:
    export_symbol(reference.export_block, reference.input_shape, staging)
    symbol = PREDICTORS[reference.task](
        SymbolRunner(staging), reference.spec, **_options(reference)
    )
    report.parity["symbol"] = compare(reference, symbol, pictures, tolerance)
    if not (
        report.parity["symbol"]["within_tolerance"] and report.parity["symbol"]["same_results"]
    ):
        raise ModelError(
            f"the exported symbol does not reproduce the checkpoint: {report.parity['symbol']}"
        )
    report.written += ["symbol"]
    if "onnx" not in formats:
        return
    try:
        with reference.onnx_variant() as block:
            export_onnx(staging, reference.input_shape, staging / ONNX, block,
                        any_size=reference.any_input_size)  # fmt: skip
        onnx = PREDICTORS[reference.task](OnnxRunner(staging / ONNX), reference.spec,
                                          **_options(reference))  # fmt: skip
        found = compare(reference, onnx, pictures, tolerance)
        report.parity["onnx"] = found
        if not (found["within_tolerance"] and found["same_results"]):
            from gluonext.engine.diagnose import first_divergence

            where = first_divergence(staging, staging / ONNX, reference, pictures[0], tolerance)
            raise OnnxUnsupported(f"ONNX Runtime's results differ from MXNet's from {where} on")
        report.written.append("onnx")
    except OnnxUnsupported as exc:
        (staging / ONNX).unlink(missing_ok=True)
        report.refused["onnx"] = str(exc)


def _options(predictor) -> dict:
    """The options a predictor was made with, for its exported twins."""
    names = ("min_score", "flip", "scales", "flip_test")
    return {n: getattr(predictor, n) for n in names if hasattr(predictor, n)}


def describe(report: ExportReport) -> list[str]:
    """Lines for the log: what was written, the parity figures, what was refused."""
    lines = [f"{report.task} model exported to {report.folder}: {', '.join(report.written)}"]
    for form, found in report.parity.items():
        lines.append(
            f"  {form} parity on {found['images']} image(s): max abs diff "
            f"{json.dumps(found['max_abs_diff'])} "
            f"(outputs up to {json.dumps(found['output_magnitude'])}), "
            f"results {'identical' if found['same_results'] else 'DIFFERENT'}"
        )
    for form, reason in report.refused.items():
        lines.append(f"  {form} not written: {reason}")
    return lines
