"""``export_model``: a checkpoint to a folder that runs without gluonext's training code.

The folder holds ``model-symbol.json`` + ``model-0000.params`` (``gluon.SymbolBlock.imports``),
``model.onnx`` where the family converts, ``model-int8.onnx`` when asked (``onnx-int8``: see
``gluonext.deploy.quantize``), and ``model.json``: the task, classes, input size,
normalisation, post-processing settings, the checkpoint's epoch and metrics, and the parity
figures measured here. The INT8 model cannot match fp32 output for output; it is scored
instead with the task's metric on the run's held-out images beside the fp32 model, and
refused when it loses more than ``max_drop`` points. Before anything is published, each
other exported form runs on the parity images next to the checkpoint's Gluon network: raw
outputs must agree within ``tolerance`` (relative to the output's magnitude) and the final
results (class maps, boxes and labels, keypoints) must be the same; a form that fails is
not written, with the reason. All files are published together: a kill leaves the old
export or the new one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gluonext.common.files import finish_publish, publish_together, staging_folder, write_json
from gluonext.common.images import IMAGE_SUFFIXES, read_rgb
from gluonext.deploy.predictor import PREDICTORS, SPEC, load_predictor
from gluonext.engine.checkpoint import read_meta
from gluonext.engine.export import (
    INT8,
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

FORMATS = ("symbol", "onnx", "onnx-int8")
DEFAULT_FORMATS = ("symbol", "onnx")


@dataclass
class Int8Options:
    """How ``onnx-int8`` is made and checked: ``calib_images`` training images of the
    checkpoint's run to calibrate on, ``held_out_images`` of its held-out split to score
    on, ``max_drop`` metric points it may lose, ``data_root`` where the run's data is now."""

    calib_images: int = 64
    held_out_images: int = 200
    max_drop: float = 1.0
    data_root: str | None = None


@dataclass
class ExportReport:
    folder: Path
    task: str
    written: list[str] = field(default_factory=list)
    parity: dict = field(
        default_factory=dict
    )  # format -> {"max_abs_diff": [...], "same_results": bool}
    refused: dict = field(default_factory=dict)  # format -> one-line reason
    quantized: dict = field(default_factory=dict)  # "int8" -> metric figures


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
    corners within 0.05 pixel and score within 1e-3, except boxes whose score ties another
    box of their class within 1e-4. (A network that is still unsure gives many candidates
    whose scores differ by 1e-7; which of them NMS and the top-k cut keep then follows
    noise of that size, in any two runtimes.)"""
    if task == "segmentation":
        return bool(np.array_equal(ours.class_map, theirs.class_map))
    if task == "keypoints":
        return _close(ours.to_json(), theirs.to_json(), atol=0.05)
    for a, b in ((ours, theirs), (theirs, ours)):
        for k in range(len(a.scores)):
            if a.scores[k] < SHOWN_SCORE + SCORE_SLACK or _tied(a, k):
                continue
            if not _found_in(a, k, b, task):
                return False
    return True


TIE = 1e-4


def _tied(result, k) -> bool:
    """Whether another box of the same class scores within ``TIE`` of box ``k``: which of
    the two NMS keeps is then decided by float noise, not by the model."""
    same = np.flatnonzero(result.class_ids == result.class_ids[k])
    gaps = np.abs(result.scores[same] - result.scores[k])
    return int((gaps <= TIE).sum()) > 1


def _magnitude(array: np.ndarray) -> float:
    finite = np.abs(array[np.isfinite(array)])
    return float(finite.max()) if finite.size else 0.0


def unstable_under(reference, image, diffs, trials: int = 20) -> bool:
    """Whether ``reference``'s own result for ``image`` changes when its raw outputs move by
    noise of the sizes ``diffs`` (uniform, per output): then a runtime whose outputs differ
    by that much cannot be expected to give the same boxes, and a difference is no fault of
    the export. Tasks with a separate ``finish`` (detection, instances) only."""
    batch, info = reference.prepare(image)
    raw = reference.runner(batch)
    base = reference.finish(raw, info, image)
    rng = np.random.RandomState(0)
    for _ in range(trials):
        noisy = [r + rng.uniform(-d, d, r.shape).astype(r.dtype) if 0 < d < np.inf else r
                 for r, d in zip(raw, diffs, strict=True)]  # fmt: skip
        if not same_results(reference.task, base, reference.finish(noisy, info, image)):
            return True
    return False


def reference_answers(reference, images) -> list:
    """(raw outputs, result) of the checkpoint for each parity image, computed once for all
    the exported forms."""
    return [reference.answer(image) for image in images]


def tie_order(outputs: list[np.ndarray]) -> list[np.ndarray]:
    """R-CNN outputs (ids, scores, boxes[, masks], K rows each, best first) with rows of
    equal score (to 1e-5) put in one order (by box, to 0.01 px): which of two tied detections
    a runtime's sort puts first is not the model's doing (an untrained head scores many boxes
    alike, to the last bit in one runtime and within 1e-8 in the other)."""
    scores, boxes = outputs[1][0, :, 0], outputs[2][0]
    order = np.lexsort((*np.round(boxes.T[::-1], 2), -np.round(scores, 5)))
    return [o[:, order] for o in outputs]


def shown_rows(reference: list[np.ndarray], other: list[np.ndarray]):
    """Both R-CNN outputs cut to the rows ``reference`` scores ``SHOWN_SCORE`` or more: below
    it an untrained RPN's tied proposal scores decide which weak boxes exist at all, in any
    two runtimes (a trained Mask R-CNN matches on every row)."""
    count = int((reference[1][0, :, 0] >= SHOWN_SCORE).sum())
    return [r[:, :count] for r in reference], [o[:, :count] for o in other]


def compare(reference, answers, other, images, tolerance: float) -> dict:
    """Raw-output differences and result agreement of ``other`` against ``reference``'s
    ``answers`` on ``images``."""
    worst, scales, agree, explained = None, None, True, True
    sorted_rows = reference.any_input_size  # the R-CNNs: their outputs are sorted detections
    for image, (ref, expected) in zip(images, answers, strict=True):
        out, result = other.answer(image)
        if sorted_rows:
            ref, out = shown_rows(tie_order(ref), tie_order(out))
        diffs = max_differences(ref, out)
        sizes = [_magnitude(r) for r in ref]
        worst = diffs if worst is None else [max(a, b) for a, b in zip(worst, diffs, strict=True)]
        scales = (
            sizes if scales is None else [max(a, b) for a, b in zip(scales, sizes, strict=True)]
        )
        if not same_results(reference.task, expected, result):
            agree = False
            boxes = reference.task in ("detection", "instances")
            explained = explained and boxes and unstable_under(reference, image, diffs)
    within = all(d <= tolerance * max(1.0, s) for d, s in zip(worst, scales, strict=True))
    return {
        "max_abs_diff": [float(f"{d:.3g}") for d in worst],
        "output_magnitude": [float(f"{s:.3g}") for s in scales],
        "tolerance": tolerance,
        "within_tolerance": within,
        "same_results": bool(agree),
        # results differ only where the checkpoint's own NMS flips under that noise
        "noise_explains": bool(not agree and explained),
        "images": len(images),
        **({"rows_compared": f"score >= {SHOWN_SCORE}, equal scores in box order"}
           if sorted_rows else {}),
    }  # fmt: skip


def passed(found: dict) -> bool:
    return found["within_tolerance"] and (found["same_results"] or found["noise_explains"])


def export_model(
    checkpoint,
    output,
    formats=DEFAULT_FORMATS,
    input_size=None,
    images=None,
    tolerance: float = 1e-4,
    int8: Int8Options | None = None,
) -> ExportReport:
    """Export ``checkpoint`` into ``output`` (see the module's description)."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ModelError(f"--format {','.join(formats)}: choose from {','.join(FORMATS)}")
    reference = load_predictor(checkpoint, input_size=input_size)
    int8 = int8 or Int8Options()
    run = None
    if "onnx-int8" in formats:  # the run's data is read first: a missing folder stops early
        from gluonext.deploy.held_out import run_data

        run = run_data(checkpoint, int8.data_root)
    data_root = int8.data_root or read_meta(checkpoint).get("args", {}).get("data_root")
    pictures = parity_images(images, data_root)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    finish_publish(output)
    report = ExportReport(output, reference.task)
    staging = staging_folder(output)
    try:
        _write_forms(reference, staging, formats, pictures, tolerance, report)
        if run is not None:
            _write_int8(reference, staging, run, int8, report)
        spec = dict(reference.spec)
        files = {"onnx": ONNX, "onnx-int8": INT8}
        spec["files"] = {"symbol": SYMBOL, "params": PARAMS,
                         **{k: v for k, v in files.items() if k in report.written}}  # fmt: skip
        spec["parity"] = report.parity
        if "onnx" in report.written and reference.any_input_size:
            spec["onnx"] = {"nms": "in the graph: MXNet's box_nms as MXNet computes it (the "
                            "top-k candidates first, classes apart; gluonext.engine.onnx_ops)",
                            "batch": 1}  # fmt: skip
        for form in ("onnx", "onnx-int8"):
            if form in report.refused:
                spec[form] = {"reason": report.refused[form]}
        if "int8" in report.quantized:
            spec["onnx-int8"] = {**report.quantized["int8"], **spec.get("onnx-int8", {})}
        write_json(staging / SPEC, spec, indent=2)
        stale = [name for form, name in files.items() if form not in report.written]
        publish_together(output, staging, deletes=stale)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_forms(reference, staging: Path, formats, pictures, tolerance, report) -> None:
    export_symbol(reference.export_block, reference.input_shape, staging)
    answers = reference_answers(reference, pictures)
    symbol = PREDICTORS[reference.task](
        SymbolRunner(staging), reference.spec, **_options(reference)
    )
    report.parity["symbol"] = compare(reference, answers, symbol, pictures, tolerance)
    if not passed(report.parity["symbol"]):
        raise ModelError(
            f"the exported symbol does not reproduce the checkpoint: {report.parity['symbol']}"
        )
    report.written += ["symbol"]
    if "onnx" not in formats and "onnx-int8" not in formats:
        return
    try:
        export_onnx(staging, reference.input_shape, staging / ONNX,
                    any_size=reference.any_input_size)  # fmt: skip
        try:
            runner = OnnxRunner(staging / ONNX)  # a default session, as a user makes it
        except RuntimeError as exc:
            raise OnnxUnsupported(str(exc).split(": ", 1)[-1]) from None
        onnx = PREDICTORS[reference.task](runner, reference.spec, **_options(reference))
        found = compare(reference, answers, onnx, pictures, tolerance)
        report.parity["onnx"] = found
        if not passed(found):
            from gluonext.engine.diagnose import first_divergence

            where = first_divergence(staging, staging / ONNX, reference, pictures[0], tolerance)
            raise OnnxUnsupported(f"ONNX Runtime's outputs differ from MXNet's, first at {where}")
        report.written.append("onnx")
    except OnnxUnsupported as exc:
        (staging / ONNX).unlink(missing_ok=True)
        report.refused["onnx"] = str(exc)


def _write_int8(reference, staging: Path, run, options: Int8Options, report) -> None:
    """Quantize the fp32 ONNX model on the run's training images, score both on its held-out
    images with the task's metric, and keep the INT8 model when it loses at most
    ``options.max_drop`` points."""
    from gluonext.deploy.quantize import quantize_onnx

    if "onnx" not in report.written:
        report.refused["onnx-int8"] = (
            f"needs the fp32 ONNX model first ({report.refused.get('onnx', 'not exported')})"
        )
        return
    fp32 = PREDICTORS[reference.task](OnnxRunner(staging / ONNX), reference.spec,
                                      **_options(reference))  # fmt: skip
    batches = [fp32.prepare(image)[0] for image in run.calibration_images(options.calib_images)]
    try:
        quantize_onnx(staging / ONNX, staging / INT8, batches)
        int8 = PREDICTORS[reference.task](OnnxRunner(staging / INT8), reference.spec,
                                          **_options(reference))  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's quantizer raises anything
        (staging / INT8).unlink(missing_ok=True)
        reason = " ".join(str(exc).split())[:300]
        report.refused["onnx-int8"] = f"ONNX Runtime's quantizer stopped: {reason}"
        return
    count = min(options.held_out_images, len(run.held_out))
    before = run.score(fp32, count)
    after = run.score(int8, count)
    drop = run.metric.drop(before, after)
    report.quantized["int8"] = {
        "metric": run.metric.name, "fp32": round(before, 3), "int8": round(after, 3),
        "drop": round(drop, 3), "max_drop": options.max_drop, "held_out_images": count,
        "calibration_images": len(batches), "calibration": "MinMax, training images",
        "weights": "INT8 per channel", "activations": "UINT8 per tensor",
        "batchnorm": "folded into the convolutions",
    }  # fmt: skip
    if drop > options.max_drop:
        (staging / INT8).unlink(missing_ok=True)
        report.refused["onnx-int8"] = (
            f"loses {drop:.2f} {run.metric.name} on {count} held-out images ({before:.2f} fp32, "
            f"{after:.2f} INT8), more than --max-drop {options.max_drop:g}"
        )
        return
    report.written.append("onnx-int8")


def _options(predictor) -> dict:
    """The options a predictor was made with, for its exported twins."""
    names = ("min_score", "flip", "scales", "flip_test")
    return {n: getattr(predictor, n) for n in names if hasattr(predictor, n)}


def _verdict(found: dict) -> str:
    if found["same_results"]:
        return "identical"
    if found["noise_explains"]:
        return (
            "differ only where the checkpoint's own boxes change under noise of that size "
            "(near-tied scores in NMS)"
        )
    return "DIFFERENT"


def describe(report: ExportReport) -> list[str]:
    """Lines for the log: what was written, the parity figures, what was refused."""
    lines = [f"{report.task} model exported to {report.folder}: {', '.join(report.written)}"]
    for form, found in report.parity.items():
        lines.append(
            f"  {form} parity on {found['images']} image(s): max abs diff "
            f"{json.dumps(found['max_abs_diff'])} "
            f"(outputs up to {json.dumps(found['output_magnitude'])}), "
            f"results {_verdict(found)}"
        )
    if "int8" in report.quantized:
        found = report.quantized["int8"]
        lines.append(
            f"  onnx-int8 on {found['held_out_images']} held-out image(s): {found['metric']} "
            f"{found['fp32']} fp32, {found['int8']} INT8 (drop {found['drop']}, allowed "
            f"{found['max_drop']:g}; calibrated on {found['calibration_images']} training images)"
        )
    for form, reason in report.refused.items():
        lines.append(f"  {form} not written: {reason}")
    return lines
