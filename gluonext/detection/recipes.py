"""What differs between GluonCV's SSD, YOLOv3 and Faster R-CNN training recipes.

``train_detection.py`` runs one loop for all three; a recipe supplies the network, the
training transform and batchify, the loss of one step, the divisor of ``trainer.step`` and
GluonCV's default hyper-parameters, and how an image is resized for inference.
"""

from __future__ import annotations

import functools

import cv2
import mxnet as mx
import numpy as np
from mxnet import gluon

from gluonext.common.images import normalize
from gluonext.detection.augment import SSDTrainTransform, YOLO3TrainTransform
from gluonext.detection.data import MixupBoxes
from gluonext.detection.model import (
    FASTER_RCNN_NETWORKS,
    SSD_NETWORKS,
    YOLO3_NETWORKS,
    RandomShapeBatchSampler,
    RandomShapeTransform,
    build_faster_rcnn,
    build_ssd,
    build_yolo3,
    load_model_zoo_detector,
    random_shape_sides,
    ssd_anchors,
)
from gluonext.engine.compat import enable_label_smoothing
from gluonext.errors import ModelError
from gluonext.rcnn.presets import FasterRCNNTrainTransform, resized_size


def _split(array, contexts):
    return gluon.utils.split_and_load(array, contexts, even_split=False)


class SquareInput:
    """SSD / YOLOv3 inference input: the image resized to ``data_shape`` square."""

    data_shape: int

    def sampler(self):
        """The batch sampler class (None: ``SeededBatchSampler``)."""
        return None

    def inference_input(self, image: np.ndarray):
        """(normalised 1 x 3 x S x S array, x scale, y scale) of an RGB image."""
        height, width = image.shape[:2]
        side = self.data_shape
        resized = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
        return normalize(resized)[None], side / width, side / height


class SSDFlipTransform:
    """``--augment flip``: resize to the square input and mirror half the images, then
    GluonCV's SSD targets. Far lighter than GluonCV's SSD augmentation (colour, zoom out, crop),
    which from random weights needs many more iterations before boxes come out."""

    def __init__(self, data_shape: int, anchors):
        from gluoncv.model_zoo.ssd.target import SSDTargetGenerator

        self.side, self.anchors = data_shape, anchors
        self.targets = SSDTargetGenerator(
            iou_thresh=0.5, stds=(0.1, 0.1, 0.2, 0.2), negative_mining_ratio=-1
        )

    def __call__(self, image, label, rng):
        height, width = image.shape[:2]
        side = self.side
        resized = cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)
        boxes = label[:, :4] * np.array([side / width, side / height] * 2, np.float32)
        if rng.rand() < 0.5:
            resized = resized[:, ::-1]
            boxes[:, (0, 2)] = side - boxes[:, (2, 0)]
        cls_t, box_t, _ = self.targets(
            self.anchors, None, mx.nd.array(boxes[None]), mx.nd.array(label[None, :, 4:5])
        )
        return mx.nd.array(normalize(np.ascontiguousarray(resized))), cls_t[0], box_t[0]


class SSDRecipe(SquareInput):
    """GluonCV's ``train_ssd.py``: anchors' targets in the transform, SSDMultiBoxLoss
    (normalised by the positives of the whole batch, so ``trainer.step(1)``), step LR."""

    name = "ssd"
    networks = tuple(SSD_NETWORKS)
    parts = ("cls", "box")
    defaults = dict(
        network="mobilenet1.0", data_shape=512, batch_size=32, epochs=240,
        lr_decay_epoch=(160, 200), warmup_epochs=0.0,
    )  # fmt: skip
    base_lr = 0.001
    warmup_factor = 0.1

    def __init__(self, args):
        self.args, self.data_shape = args, args.data_shape

    @classmethod
    def default_lr(cls, batch_size: int) -> float:
        return cls.base_lr

    def build(self, classes, contexts, pretrained_base=None, model_zoo=None, norm=None):
        if model_zoo:
            net = load_model_zoo_detector(model_zoo, classes)
        else:
            net = build_ssd(self.args.network, self.data_shape, classes, pretrained_base, norm)
        net.collect_params().reset_ctx(contexts)
        return net

    def training_set(self, dataset):
        return dataset

    def prepare(self, net, dataset, contexts):
        """Set the dataset's training transform; returns the batchify function."""
        from gluoncv.data.batchify import Stack, Tuple
        from gluoncv.loss import SSDMultiBoxLoss

        side = self.data_shape
        anchors = ssd_anchors(net, side, contexts[0]).as_in_context(mx.cpu())
        if getattr(self.args, "augment", "gluoncv") == "flip":
            dataset.transform_fn = SSDFlipTransform(side, anchors)
        else:
            dataset.transform_fn = SSDTrainTransform(side, side, anchors)
        self.loss = SSDMultiBoxLoss()
        return Tuple(Stack(), Stack(), Stack())

    def start_epoch(self, dataset, epoch: int) -> None:
        pass

    def losses(self, net, batch, contexts):
        """(per-device losses to back-propagate, {part: per-device arrays})."""
        images, cls_t, box_t = (_split(b, contexts) for b in batch)
        outputs = [net(x) for x in images]
        total, cls_loss, box_loss = self.loss(
            [o[0] for o in outputs], [o[1] for o in outputs], cls_t, box_t
        )
        return total, {"cls": cls_loss, "box": box_loss}

    def step_divisor(self, batch_size: int) -> int:
        return 1  # the loss is already normalised by the number of positives

    def report_divisor(self, batch_size: int) -> int:
        return 1


class YOLO3Recipe(SquareInput):
    """GluonCV's ``train_yolo3.py``: its target generator in the transform, the network's own
    loss (objectness, centre, scale, class), optional mixup switched off for the last
    ``--no-mixup-epochs``, linear warmup from 0, ``trainer.step(batch_size)``, and GluonCV's
    random input shapes (a new side every 10 batches; ``--no-random-shape``: every batch at
    ``--data-shape``)."""

    name = "yolo3"
    networks = YOLO3_NETWORKS
    parts = ("obj", "center", "scale", "cls")
    defaults = dict(
        network="darknet53", data_shape=416, batch_size=64, epochs=200,
        lr_decay_epoch=(160, 180), warmup_epochs=2.0,
    )  # fmt: skip
    base_lr = 0.001
    warmup_factor = 0.0

    def __init__(self, args):
        if args.data_shape % 32:
            raise ModelError(f"--data-shape {args.data_shape}: YOLOv3 needs a multiple of 32")
        self.args, self.data_shape = args, args.data_shape

    @classmethod
    def default_lr(cls, batch_size: int) -> float:
        return cls.base_lr

    def build(self, classes, contexts, pretrained_base=None, model_zoo=None, norm=None):
        if model_zoo:
            net = load_model_zoo_detector(model_zoo, classes)
        else:
            net = build_yolo3(self.args.network, classes, pretrained_base, norm)
        if self.args.label_smooth:
            enable_label_smoothing(net)
        net.collect_params().reset_ctx(contexts)
        return net

    def training_set(self, dataset):
        return MixupBoxes(dataset) if self.args.mixup else dataset

    def prepare(self, net, dataset, contexts):
        from gluoncv.data.batchify import Pad, Stack, Tuple

        side = self.data_shape
        sides = random_shape_sides(side) if self.random_shapes else (side,)

        def make(size):
            return YOLO3TrainTransform(size, size, net, mixup=self.args.mixup)

        dataset.transform_fn = RandomShapeTransform(make, sides, side)
        net.collect_params().reset_ctx(contexts)  # the transforms' copies moved them to the CPU
        return Tuple(*([Stack() for _ in range(6)] + [Pad(axis=0, pad_val=-1)]))

    @property
    def random_shapes(self) -> bool:
        return not getattr(self.args, "no_random_shape", True)

    def sampler(self):
        """The batch sampler class: GluonCV's random input shapes unless --no-random-shape."""
        if not self.random_shapes:
            return None
        sides = random_shape_sides(self.data_shape)
        return functools.partial(RandomShapeBatchSampler, sides=sides)

    def start_epoch(self, dataset, epoch: int) -> None:
        if isinstance(dataset, MixupBoxes):
            dataset.enabled = epoch <= self.args.epochs - self.args.no_mixup_epochs

    def losses(self, net, batch, contexts):
        images = _split(batch[0], contexts)
        targets = [_split(b, contexts) for b in batch[1:6]]
        gt_boxes = _split(batch[6], contexts)
        totals, parts = [], {name: [] for name in self.parts}
        for k, x in enumerate(images):
            terms = net(x, gt_boxes[k], *[t[k] for t in targets])
            totals.append(sum(terms))
            for name, term in zip(self.parts, terms, strict=True):
                parts[name].append(term)
        return totals, parts

    def step_divisor(self, batch_size: int) -> int:
        return batch_size

    def report_divisor(self, batch_size: int) -> int:
        return batch_size  # per image, as GluonCV logs it


class FasterRCNNRecipe:
    """GluonCV's ``train_faster_rcnn.py``: RPN targets in the transform, one padded image
    group per device (``FasterRCNNTrainBatchify``), the four-term loss normalised per device,
    linear warmup from 1/3, ``trainer.step(batch_size)``. Inference keeps the aspect ratio
    (short side ``--short``, long side at most ``--max-size``)."""

    name = "faster_rcnn"
    networks = FASTER_RCNN_NETWORKS
    parts = ("rpn_cls", "rpn_box", "rcnn_cls", "rcnn_box")
    defaults = dict(
        network="resnet50_v1b", data_shape=600, batch_size=None, epochs=20,
        lr_decay_epoch=(14, 20), warmup_epochs=0.0,
    )  # fmt: skip
    base_lr = 0.001
    warmup_factor = 1.0 / 3

    def __init__(self, args):
        self.args = args
        self.short, self.max_size = args.data_shape, args.max_size

    @classmethod
    def default_lr(cls, batch_size: int) -> float:
        """GluonCV's VOC rate for one image, scaled with the batch."""
        return cls.base_lr * batch_size

    def build(self, classes, contexts, pretrained_base=None, model_zoo=None, norm=None):
        from gluonext.rcnn.model import initialize, load_model_zoo_rcnn

        per_device = max(1, self.args.batch_size // max(1, len(contexts)))
        if model_zoo:
            net = load_model_zoo_rcnn(model_zoo, classes, self.short, self.max_size, per_device)
        else:
            net = build_faster_rcnn(
                self.args.network, classes, self.short, self.max_size, pretrained_base,
                per_device, getattr(self.args, "rcnn_num_samples", 128),
                getattr(self.args, "use_fpn", False), getattr(self.args, "rpn_pre_nms", None),
                getattr(self.args, "rpn_post_nms", None),
            )  # fmt: skip
        initialize(net, contexts)
        return net

    def training_set(self, dataset):
        return dataset

    def sampler(self):
        return None

    def prepare(self, net, dataset, contexts):
        from gluoncv.data.batchify import FasterRCNNTrainBatchify

        from gluonext.rcnn.loss import FasterRCNNLoss

        dataset.transform_fn = FasterRCNNTrainTransform(
            net, self.short, self.max_size, multi_stage=getattr(self.args, "use_fpn", False)
        )
        self.loss = FasterRCNNLoss()
        return FasterRCNNTrainBatchify(net, len(contexts))

    def start_epoch(self, dataset, epoch: int) -> None:
        pass

    def losses(self, net, batch, contexts):
        # GluonCV's batchify gives one array per device, or a bare array for one device
        per_device = zip(*[b if isinstance(b, (list, tuple)) else [b] for b in batch], strict=True)
        totals, parts = [], {name: [] for name in self.parts}
        for ctx, items in zip(contexts, per_device, strict=False):  # a short last batch
            total, terms = self.loss(net, *[x.as_in_context(ctx) for x in items])
            totals.append(total)
            for name, term in zip(self.parts, terms, strict=True):
                parts[name].append(term)
        return totals, parts

    def step_divisor(self, batch_size: int) -> int:
        return batch_size

    def report_divisor(self, batch_size: int) -> int:
        return 1

    def inference_input(self, image: np.ndarray):
        height, width = image.shape[:2]
        new_w, new_h = resized_size(width, height, self.short, self.max_size)
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        return normalize(resized)[None], new_w / width, new_h / height


RECIPES = {r.name: r for r in (SSDRecipe, YOLO3Recipe, FasterRCNNRecipe)}


def recipe_from_meta(meta: dict):
    """The recipe (with its settings) a detection checkpoint was trained with."""
    from types import SimpleNamespace

    args = SimpleNamespace(**meta["args"])
    return RECIPES[meta["model"]](args)


def build_from_meta(meta: dict, ctx=None):
    """(recipe, network) of a detection checkpoint, weights not loaded."""
    recipe = recipe_from_meta(meta)
    classes, contexts = list(meta["classes"]), [ctx or mx.cpu()]
    zoo = meta["args"].get("model_zoo")
    if not zoo:
        return recipe, recipe.build(classes, contexts)
    import gluoncv

    from gluonext.engine.compat import fix_cpu_roi_align
    from gluonext.rcnn.model import initialize

    net = gluoncv.model_zoo.get_model(zoo, pretrained=False, pretrained_base=False)
    if recipe.name == "faster_rcnn":
        initialize(net, contexts)
        net.reset_class(classes)
        net.short, net.max_size = recipe.short, recipe.max_size
        return recipe, fix_cpu_roi_align(net)
    net.initialize()
    net.reset_class(classes)
    net.collect_params().reset_ctx(contexts)
    return recipe, net
