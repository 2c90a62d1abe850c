"""One image in, instances out (boxes, masks at the image's size, scores): the Mask R-CNN
predictor behind ``load_predictor``, the export and the server. Mask R-CNN keeps its NMS and
RoI pooling inside the network; it runs as Gluon or as an exported symbol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import mxnet as mx
import numpy as np

from gluonext.common.drawing import class_legend, draw_instances
from gluonext.engine.checkpoint import load_checkpoint
from gluonext.engine.predictor import Predictor, base_spec, check_image, checkpoint_meta
from gluonext.engine.runners import GluonRunner
from gluonext.instance.attributes import AttributeVocabulary
from gluonext.instance.evaluate import Instances, encode_masks, instances_in_image
from gluonext.instance.model import build_from_meta
from gluonext.instance.postprocess import (
    DEFAULTS,
    PostProcess,
    settings_beside,
    suppress_same_class,
)
from gluonext.instance.tta import merge_passes, run_passes
from gluonext.rcnn.model import initialize
from gluonext.rcnn.presets import MaskRCNNValTransform


@dataclass
class InstanceResult:
    """Instances of one image, best first; ``masks`` H x W x K (0/1)."""

    instances: Instances
    classes: list[str]
    vocabulary: AttributeVocabulary | None = None  # with an attribute head

    def attribute_lists(self) -> list[list[dict]]:
        """Each instance's predicted attributes (``id``, ``name``, ``score``: the probability),
        most likely first; empty lists without an attribute head."""
        found = self.instances.attributes
        if self.vocabulary is None or found is None:
            return [[] for _ in self.scores]
        named = dict(zip(self.vocabulary.ids, self.vocabulary.names, strict=True))
        return [[{"id": a, "name": named[a],
                  "score": round(float(row[self.vocabulary.column[a]]), 4)}
                 for a in self.vocabulary.predicted(row)] for row in found]  # fmt: skip

    @property
    def boxes(self):
        return self.instances.boxes

    @property
    def scores(self):
        return self.instances.scores

    @property
    def class_ids(self):
        return self.instances.class_ids

    @property
    def masks(self):
        return self.instances.masks

    def draw(self, image: np.ndarray, min_score: float = 0.5) -> np.ndarray:
        keep = np.flatnonzero(self.scores >= min_score)
        lists = self.attribute_lists()
        captions = [", ".join(a["name"] for a in lists[k]) for k in keep]
        return draw_instances(image, self.boxes[keep], self.class_ids[keep], self.scores[keep],
                              self.classes, self.masks[:, :, keep], captions=captions)  # fmt: skip

    def legend(self, min_score: float = 0.5) -> list[dict]:
        """One entry per class drawn: its colour, how many instances and the best score."""
        keep = self.scores >= min_score
        shown = SimpleNamespace(class_ids=self.class_ids[keep], scores=self.scores[keep])
        entries = class_legend(shown, self.classes)
        if self.vocabulary is not None and self.instances.attributes is not None:
            lists = [found for found, k in zip(self.attribute_lists(), keep, strict=True) if k]
            for entry in entries:  # the attributes seen on the class's instances
                names = {attribute["name"]
                         for found, c in zip(lists, shown.class_ids, strict=True)
                         if self.classes[int(c)] == entry["name"] for attribute in found}
                if names:
                    entry["detail"] += "; " + ", ".join(sorted(names))
        return entries

    def to_json(self) -> dict:
        rles = encode_masks(self.masks)
        found = [
            {
                "class": self.classes[int(c)],
                "class_id": int(c),
                "score": round(float(s), 5),
                "box": [round(float(v), 2) for v in b],
                "mask": r,
            }  # fmt: skip
            for b, c, s, r in zip(self.boxes, self.class_ids, self.scores, rles, strict=True)
        ]
        if self.vocabulary is not None:
            for entry, attributes in zip(found, self.attribute_lists(), strict=True):
                entry["attributes"] = attributes
        return {"task": "instances", "instances": found}


class InstancePredictor(Predictor):
    """Instances with scores of at least ``min_score`` (0.05 by default), masks and same-class
    suppression as ``spec["postprocess"]`` says (tuned settings, else GluonCV's 0.5 mask
    threshold and no suppression); ``flip_test`` and ``scales`` add test-time passes, merged
    by box and mask voting (``gluonext.instance.tta``)."""

    task = "instances"
    any_input_size = True

    def __init__(self, runner, spec, min_score: float = 0.05, flip_test: bool = False,
                 scales=(1.0,)):  # fmt: skip
        super().__init__(runner, spec)
        self.min_score = min_score
        self.flip_test, self.scales = flip_test, tuple(scales)
        self.settings = PostProcess(**spec.get("postprocess", DEFAULTS.as_dict()))
        attributes = spec.get("attributes")
        self.vocabulary = AttributeVocabulary(attributes) if attributes else None
        self.transform = MaskRCNNValTransform(spec["resize_short"], spec["resize_max"])

    @classmethod
    def from_checkpoint(cls, path: Path, ctx=None, input_size=None, **options):
        ctx = ctx or mx.cpu()
        meta = checkpoint_meta(path, "category_ids", "train_mask_rcnn.py")
        net = build_from_meta(meta)
        initialize(net, [ctx])
        load_checkpoint(path, net)
        net.hybridize(static_alloc=True)
        short = int(
            meta["short"][-1] if isinstance(meta["short"], (list, tuple)) else meta["short"]
        )
        spec = base_spec("instances", meta["classes"], (short, meta["max_size"]), meta)
        spec.update(resize_short=short, resize_max=int(meta["max_size"]),
                    category_ids=list(meta["category_ids"]))  # fmt: skip
        spec["resize"] = "short side to resize_short, long side at most resize_max (any size)"
        spec["outputs"] = ["ids N x K x 1", "scores N x K x 1", "boxes N x K x 4",
                           "masks N x K x M x M (box-relative probabilities)"]  # fmt: skip
        if meta.get("attributes"):
            spec["attributes"] = list(meta["attributes"])
            spec["outputs"].append("attributes N x K x A (probabilities, in the order of "
                                   "'attributes')")
        spec["model"] = {"network": meta.get("network"), "use_fpn": meta.get("use_fpn")}
        spec["postprocess"] = (settings_beside(path) or DEFAULTS).as_dict()
        predictor = cls(GluonRunner(net, ctx), spec, **options)
        predictor.export_block = net
        return predictor

    def __call__(self, image) -> InstanceResult:
        if not self.flip_test and self.scales == (1.0,):
            return super().__call__(image)
        image = check_image(image)
        passes = run_passes(self.runner, image, self.spec["resize_short"],
                            self.spec["resize_max"], self.scales, self.flip_test,
                            self.min_score)  # fmt: skip
        found = merge_passes(passes, image.shape[:2], self.settings.mask, self.min_score)
        return InstanceResult(self._suppressed(found), self.classes, self.vocabulary)

    def _suppressed(self, found: Instances) -> Instances:
        kept = suppress_same_class(found.masks, found.class_ids, self.settings.nms)
        if len(kept) == len(found.scores):
            return found
        return found.take(kept)

    def prepare(self, image):
        tensor, info = self.transform(image)
        return tensor.asnumpy()[None], float(info.asnumpy()[2])

    def finish(self, outputs, info, image) -> InstanceResult:
        ids, scores, boxes, masks, *attributes = (o[0] for o in outputs)
        ids, scores = ids[:, 0], scores[:, 0]
        keep = np.flatnonzero((ids >= 0) & (scores >= self.min_score))
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        found = instances_in_image(ids, scores, boxes, masks, keep, info, image.shape[:2],
                                   self.settings.mask,
                                   attributes[0] if attributes else None)  # fmt: skip
        return InstanceResult(self._suppressed(found), self.classes, self.vocabulary)
