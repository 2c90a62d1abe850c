"""One image in, a class map out: the segmentation predictor behind ``load_predictor``, the
export and the server.

The network sees the image letterboxed into its input size (aspect kept, the rest padded with
the mean colour, i.e. zeros after normalisation), so every way of running it, including an
ONNX model of fixed size, gets the same input; the scores of the image's own area are
resized back to the image, and the class map is their argmax.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from gluonext.common.drawing import overlay, palette_for
from gluonext.common.images import normalize
from gluonext.engine.checkpoint import load_checkpoint
from gluonext.engine.predictor import Predictor, base_spec, check_image, checkpoint_meta
from gluonext.engine.runners import GluonRunner
from gluonext.errors import ModelError
from gluonext.segmentation.model import FIXED_SIZE_MODELS, model_from_checkpoint_meta


@dataclass
class SegmentationResult:
    """A class index per pixel, at the image's own size."""

    class_map: np.ndarray
    classes: list[str]
    palette: list = field(repr=False)

    @property
    def fractions(self) -> dict[str, float]:
        counts = np.bincount(self.class_map.ravel(), minlength=len(self.classes))
        return {
            name: round(float(c) / self.class_map.size, 5)
            for name, c in zip(self.classes, counts, strict=True)
        }

    def draw(self, image: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """The image with each class's colour blended in (background left as it is)."""
        return overlay(image, self.class_map, self.palette, alpha)

    def legend(self) -> list[dict]:
        """Every class in its colour, with its share of the pixels."""
        fractions = self.fractions
        return [
            {"name": name, "color": list(self.palette[k]),
             "detail": f"{100 * fractions[name]:.1f}%", "fraction": fractions[name]}
            for k, name in enumerate(self.classes)
        ]  # fmt: skip

    def to_json(self) -> dict:
        return {
            "task": "segmentation",
            "width": int(self.class_map.shape[1]),
            "height": int(self.class_map.shape[0]),
            "classes": self.classes,
            "fractions": self.fractions,
        }


class MainLogits(mx.gluon.HybridBlock):
    """The segmentation network's first output only (the logits, without the aux head)."""

    def __init__(self, net):
        super().__init__()
        with self.name_scope():
            self.net = net

    def hybrid_forward(self, F, x):
        out = self.net(x)
        return out[0] if isinstance(out, (list, tuple)) else out


def letterbox(image: np.ndarray, height: int, width: int):
    """(3 x height x width normalised array, (valid height, valid width))."""
    h, w = image.shape[:2]
    factor = min(height / h, width / w)
    nh, nw = max(1, min(height, round(h * factor))), max(1, min(width, round(w * factor)))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((3, height, width), dtype=np.float32)
    out[:, :nh, :nw] = normalize(resized)
    return out, (nh, nw)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=0, keepdims=True)
    np.exp(shifted, out=shifted)
    return shifted / shifted.sum(axis=0, keepdims=True)


class SegmentationPredictor(Predictor):
    """Class maps; ``flip`` adds the mirrored image, ``scales`` resizes the input (a Gluon
    checkpoint only: an exported network has one input size)."""

    task = "segmentation"

    def __init__(self, runner, spec, flip: bool = False, scales=(1.0,)):
        super().__init__(runner, spec)
        self.palette = [tuple(c) for c in spec["palette"]]
        self.flip, self.scales = flip, tuple(scales)

    @classmethod
    def from_checkpoint(cls, path: Path, ctx=None, input_size=None, **options):
        ctx = ctx or mx.cpu()
        meta = checkpoint_meta(path, "nclass", "train_segmentation.py")
        net = model_from_checkpoint_meta(meta)
        load_checkpoint(path, net)
        net.collect_params().reset_ctx(ctx)
        block = MainLogits(net)
        block.hybridize(static_alloc=True)
        args = meta.get("args", {})
        side = args.get("base_size", 520)
        if meta.get("model") in FIXED_SIZE_MODELS:  # one input size: the training crop
            side = args.get("crop_size", 480)
        size = tuple(input_size or (side, side))
        spec = base_spec("segmentation", meta["classes"], size, meta)
        spec["palette"] = meta.get("palette") or [
            list(c) for c in palette_for(len(meta["classes"]), meta.get("label_mode"))
        ]
        spec["resize"] = (
            "letterbox: scaled (linear) by min(H / h, W / w), placed at the top left, the rest "
            "zeros after normalisation; the output's top-left h*s x w*s logits resized back "
            "(linear) to the image, argmax"
        )
        spec["outputs"] = ["logits: N x classes x H x W"]
        spec["model"] = {"model": meta.get("model"), "backbone": meta.get("backbone")}
        predictor = cls(GluonRunner(block, ctx), spec, **options)
        predictor.export_block = block
        return predictor

    def prepare(self, image, scale: float = 1.0):
        height, width = self.input_size
        if scale != 1.0:
            height, width = max(8, round(height * scale)), max(8, round(width * scale))
        x, valid = letterbox(image, height, width)
        batch = [x, x[:, :, ::-1]] if self.flip else [x]
        return np.stack(batch), valid

    def scores(self, image: np.ndarray) -> np.ndarray:
        """Summed class probabilities (H x W x classes) at the image's size."""
        if self.scales != (1.0,) and self.runner.name != "gluon":
            raise ModelError(
                f"--scales {','.join(map(str, self.scales))}: an exported network has one "
                "input size; multi-scale needs the .ckpt"
            )
        h, w = image.shape[:2]
        total = None
        for scale in self.scales:
            batch, (nh, nw) = self.prepare(image, scale)
            logits = self.runner(batch)[0]
            probs = _softmax(logits[0])
            if self.flip:
                probs = probs + _softmax(logits[1])[:, :, ::-1]
            crop = np.ascontiguousarray(probs[:, :nh, :nw].transpose(1, 2, 0))
            full = cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)
            full = full.reshape(h, w, -1)
            total = full if total is None else total + full
        return total

    def __call__(self, image):
        image = check_image(image)
        class_map = self.scores(image).argmax(axis=2).astype(np.uint8)
        return SegmentationResult(class_map, self.classes, self.palette)
