"""What every task's predictor shares: a runner (Gluon, symbol or ONNX), the ``spec`` that
says how images go in and results come out (written to an export folder as ``model.json``),
and the checks on the image it is given."""

from __future__ import annotations

import numpy as np

from gluonext.common.images import MEAN, STD
from gluonext.errors import CheckpointError, DatasetError

SPEC_VERSION = 1


def check_image(image) -> np.ndarray:
    """An H x W x 3 uint8 RGB array, or a one-line error saying what it is instead."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DatasetError(
            f"expected an H x W x 3 uint8 RGB image, got shape {image.shape} {image.dtype}"
        )
    if min(image.shape[:2]) < 2:
        raise DatasetError(f"image of {image.shape[1]} x {image.shape[0]} pixels is too small")
    return image


def checkpoint_meta(path, key: str, script: str) -> dict:
    """The ``meta`` of a checkpoint ``script`` wrote (one with ``key``), or a one-line error."""
    from gluonext.engine.checkpoint import read_meta

    meta = read_meta(path)
    if key not in meta:
        raise CheckpointError(f"{path}: not a {script} checkpoint")
    return meta


def base_spec(task: str, classes, input_size, meta: dict) -> dict:
    """The fields of ``model.json`` every task has."""
    return {
        "version": SPEC_VERSION,
        "task": task,
        "classes": list(classes),
        "input": {
            "name": "data",
            "layout": "NCHW",
            "height": int(input_size[0]),
            "width": int(input_size[1]),
            "color": "RGB",
            "mean": [round(float(v), 4) for v in MEAN],
            "std": [round(float(v), 4) for v in STD],
            "normalize": "(pixel - mean) / std, pixels 0-255",
        },
        "checkpoint": {
            "epoch": meta.get("epoch"),
            "best": meta.get("best"),
            "metrics": (meta.get("history") or [{}])[-1],
        },
    }


class Predictor:
    """Call with an RGB image (H x W x 3 uint8) for the task's result."""

    task = "task"
    any_input_size = False  # True: the network takes any height and width (R-CNN)

    def __init__(self, runner, spec: dict):
        self.runner, self.spec = runner, spec
        self.classes = list(spec["classes"])
        self.export_block = None  # the Gluon block to export (checkpoint predictors only)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.spec["input"]["height"], self.spec["input"]["width"]

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, *self.input_size)

    def __call__(self, image):
        image = check_image(image)
        batch, info = self.prepare(image)
        return self.finish(self.runner(batch), info, image)

    def network_outputs(self, image) -> list[np.ndarray]:
        """The network's raw outputs for ``image`` (what the export parity check compares)."""
        batch, _ = self.prepare(check_image(image))
        return self.runner(batch)

    def answer(self, image) -> tuple[list[np.ndarray], object]:
        """(raw outputs, result) for ``image``: one pass of the network where the result is
        made from those outputs alone, two where the task's call runs more (flip, scales)."""
        if type(self).__call__ is not Predictor.__call__:
            return self.network_outputs(image), self(image)
        image = check_image(image)
        batch, info = self.prepare(image)
        outputs = self.runner(batch)
        return outputs, self.finish(outputs, info, image)

    def prepare(self, image):  # pragma: no cover - every task overrides it
        raise NotImplementedError

    def finish(self, outputs, info, image):  # pragma: no cover - every task overrides it
        raise NotImplementedError
