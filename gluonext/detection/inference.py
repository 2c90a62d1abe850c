"""One image in, boxes out: the detection predictor behind ``load_predictor``, the export and
the server.

SSD and YOLOv3 run without their built-in NMS (GluonCV's ``set_nms(0)``): every class's
candidate boxes leave the network and ``gluonext.common.nms.box_nms`` keeps the best, with
the network's own settings, for every way of running it (ONNX's NonMaxSuppression would
suppress across classes). Faster R-CNN keeps its NMS inside; it runs as Gluon or symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import mxnet as mx
import numpy as np

from gluonext.common.drawing import class_legend, draw_instances
from gluonext.common.nms import box_nms
from gluonext.detection.evaluate import boxes_in_image
from gluonext.detection.recipes import RECIPES, build_from_meta
from gluonext.engine.checkpoint import load_checkpoint, read_meta
from gluonext.engine.predictor import Predictor, base_spec
from gluonext.engine.runners import GluonRunner
from gluonext.errors import CheckpointError


@dataclass
class DetectionResult:
    """Boxes (K x 4 pixel corners x1, y1, x2, y2), class ids and scores, best first."""

    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray
    classes: list[str]

    def above(self, min_score: float) -> DetectionResult:
        keep = self.scores >= min_score
        return DetectionResult(self.boxes[keep], self.class_ids[keep], self.scores[keep],
                               self.classes)  # fmt: skip

    def draw(self, image: np.ndarray, min_score: float = 0.5) -> np.ndarray:
        shown = self.above(min_score)
        return draw_instances(image, shown.boxes, shown.class_ids, shown.scores, self.classes)

    def legend(self, min_score: float = 0.5) -> list[dict]:
        """One entry per class drawn: its box colour, how many boxes and the best score."""
        return class_legend(self.above(min_score), self.classes)

    def to_json(self) -> dict:
        return {
            "task": "detection",
            "detections": [
                {
                    "class": self.classes[int(c)],
                    "class_id": int(c),
                    "score": round(float(s), 5),
                    "box": [round(float(v), 2) for v in b],
                }
                for b, c, s in zip(self.boxes, self.class_ids, self.scores, strict=True)
            ],
        }


class DetectionPredictor(Predictor):
    """Boxes with scores of at least ``min_score`` (0.05 by default, as GluonCV's demos)."""

    task = "detection"

    def __init__(self, runner, spec, min_score: float = 0.05):
        super().__init__(runner, spec)
        self.min_score = min_score
        self.recipe = RECIPES[spec["model"]["model"]](SimpleNamespace(**spec["model"]["args"]))

    @property
    def any_input_size(self) -> bool:
        return self.spec["model"]["model"] == "faster_rcnn"

    @classmethod
    def from_checkpoint(cls, path: Path, ctx=None, input_size=None, **options):
        ctx = ctx or mx.cpu()
        meta = read_meta(path)
        if meta.get("model") not in RECIPES or "args" not in meta:
            raise CheckpointError(f"{path}: not a train_detection.py checkpoint")
        recipe, net = build_from_meta(meta, ctx)
        load_checkpoint(path, net)
        spec = base_spec("detection", meta["classes"], cls.input_size_of(recipe), meta)
        keys = ("network", "data_shape", "max_size")
        args = {k: meta["args"][k] for k in keys if k in meta["args"]}
        spec["model"] = {"model": recipe.name, "args": args}
        if recipe.name == "faster_rcnn":
            spec["resize"] = "short side to data_shape, long side at most max_size (any size)"
            spec["nms"] = {"in_network": True}
            spec["outputs"] = ["ids N x K x 1", "scores N x K x 1", "boxes N x K x 4"]
        else:
            spec["resize"] = "stretched to data_shape x data_shape"
            spec["nms"] = {
                "in_network": False,
                "overlap": float(net.nms_thresh),
                "topk": int(net.nms_topk),
                "keep_top": int(net.post_nms),
                "valid_thresh": 0.01,
                "per_class": True,
            }
            spec["outputs"] = ["ids N x K x 1 (-1: below 0.01)", "scores N x K x 1",
                               "boxes N x K x 4 (input pixels)"]  # fmt: skip
            net.set_nms(nms_thresh=0)
        net.hybridize(static_alloc=True, static_shape=recipe.name != "faster_rcnn")
        predictor = cls(GluonRunner(net, ctx), spec, **options)
        predictor.export_block = net
        return predictor

    @staticmethod
    def input_size_of(recipe) -> tuple[int, int]:
        if recipe.name == "faster_rcnn":
            return recipe.short if isinstance(recipe.short, int) else recipe.short[
                -1
            ], recipe.max_size
        return recipe.data_shape, recipe.data_shape

    def prepare(self, image):
        array, sx, sy = self.recipe.inference_input(image)
        return array, (sx, sy)

    def finish(self, outputs, info, image) -> DetectionResult:
        ids, scores, boxes = outputs[0][0, :, 0], outputs[1][0, :, 0], outputs[2][0]
        nms = self.spec["nms"]
        if nms["in_network"]:
            kept = np.flatnonzero(ids >= 0)
        else:
            kept = box_nms(ids, scores, boxes, nms["overlap"], nms["topk"], nms["valid_thresh"],
                           nms["keep_top"])  # fmt: skip
        kept = kept[scores[kept] >= self.min_score]
        kept = kept[np.argsort(-scores[kept], kind="stable")]
        class_ids, kept_scores, found = boxes_in_image(ids, scores, boxes, kept, info,
                                                       image.shape[:2])  # fmt: skip
        return DetectionResult(found, class_ids, kept_scores, self.classes)
