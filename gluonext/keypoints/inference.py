"""One image in, named landmarks out: the keypoint predictor behind ``load_predictor``, the
export and the server. The whole image is the person box (as ``predict_keypoints.py`` does
for FashionAI's single-garment photos); ``flip_test`` and ``scales`` as in GluonCV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.drawing import draw_keypoints, voc_palette
from gluonext.engine.checkpoint import load_checkpoint
from gluonext.engine.predictor import Predictor, base_spec, check_image, checkpoint_meta
from gluonext.engine.runners import GluonRunner
from gluonext.errors import DatasetError
from gluonext.formats.fashionai import CATEGORIES, FASHIONAI_CATEGORY_KEYPOINTS, flip_pairs
from gluonext.keypoints.decode import keypoints_from, pose_batch
from gluonext.keypoints.model import build_pose_net


@dataclass
class KeypointResult:
    """Pixel positions (J x 2) and heatmap peaks (J,) of the named landmarks; ``shown``
    marks those of the garment's category (all when no category was given)."""

    points: np.ndarray
    confidences: np.ndarray
    names: list[str]
    shown: np.ndarray
    category: str | None = None

    def draw(self, image: np.ndarray) -> np.ndarray:
        keep = np.flatnonzero(self.shown)
        names = [self.names[k] for k in keep]
        return draw_keypoints(image, self.points[keep], names, flip_pairs(names))

    def legend(self) -> list[dict]:
        """The drawn landmarks in their dot colours, with their heatmap peaks."""
        keep = np.flatnonzero(self.shown)
        palette = voc_palette(len(keep) + 1)
        return [
            {"name": self.names[k], "color": list(palette[i + 1]),
             "detail": f"peak {self.confidences[k]:.2f}"}
            for i, k in enumerate(keep)
        ]  # fmt: skip

    def to_json(self) -> dict:
        return {
            "task": "keypoints",
            "category": self.category,
            "keypoints": [
                {"name": n, "x": round(float(p[0]), 2), "y": round(float(p[1]), 2),
                 "confidence": round(float(c), 4)}
                for n, p, c, s in zip(self.names, self.points, self.confidences, self.shown,
                                      strict=True) if s
            ],
        }  # fmt: skip


class KeypointPredictor(Predictor):
    task = "keypoints"

    def __init__(self, runner, spec, flip_test: bool = False, scales=(1.0,)):
        super().__init__(runner, spec)
        self.names = list(spec["keypoints"]["names"])
        self.pairs = [tuple(p) for p in spec["keypoints"]["flip_pairs"]]
        self.flip_test, self.scales = flip_test, tuple(scales)

    @classmethod
    def from_checkpoint(cls, path: Path, ctx=None, input_size=None, **options):
        ctx = ctx or mx.cpu()
        meta = checkpoint_meta(path, "joints", "train_keypoints.py")
        net = build_pose_net(meta.get("model", "simple_pose"), meta["network"], len(meta["joints"]))
        net.collect_params().reset_ctx(ctx)
        load_checkpoint(path, net)
        net.hybridize(static_alloc=True)
        names = list(meta["joints"])
        spec = base_spec("keypoints", names, tuple(input_size or meta["input_size"]), meta)
        spec["keypoints"] = {
            "names": names,
            "flip_pairs": [list(p) for p in flip_pairs(names)],
            "category": meta["category"],
            "categories": {c: [n for n in names if n in FASHIONAI_CATEGORY_KEYPOINTS[c]]
                           for c in CATEGORIES},
        }  # fmt: skip
        spec["resize"] = (
            "affine warp of the whole image: centre (W/2, H/2), box the image grown to the "
            "input's aspect, times 1.25, mapped onto the input (GluonCV's get_affine_transform, "
            "linear interpolation)"
        )
        spec["decode"] = (
            "per heatmap: argmax, moved 0.25 px towards the higher neighbour, then the inverse "
            "warp to image pixels (heatmaps are a quarter of the input)"
        )
        spec["outputs"] = ["heatmaps N x joints x H/4 x W/4"]
        spec["model"] = {"model": meta.get("model", "simple_pose"), "network": meta["network"]}
        predictor = cls(GluonRunner(net, ctx), spec, **options)
        predictor.export_block = net
        return predictor

    def prepare(self, image):
        batch, center, scale = pose_batch(image, self.input_size, 1.0, self.flip_test)
        return batch, (center, scale)

    def __call__(self, image, category: str | None = None) -> KeypointResult:
        image = check_image(image)
        model_category = self.spec["keypoints"]["category"]
        category = category or (model_category if model_category != "all" else None)
        if category is not None and category not in CATEGORIES:
            raise DatasetError(f"category {category!r}: choose from {', '.join(CATEGORIES)}")
        points, peaks = keypoints_from(
            lambda batch: self.runner(batch)[0], image, self.input_size, self.pairs,
            self.flip_test, self.scales,
        )  # fmt: skip
        shown = np.array([category is None or n in FASHIONAI_CATEGORY_KEYPOINTS[category]
                          for n in self.names])  # fmt: skip
        return KeypointResult(points, peaks, self.names, shown, category)
