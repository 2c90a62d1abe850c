"""Box detectors from GluonCV's ``*_custom`` constructors, built for the dataset's classes.

``--model ssd --network mobilenet0.25 --data-shape 300`` is GluonCV's
``ssd_300_mobilenet0.25_custom``, ``--model yolo3 --network darknet53`` its
``yolo3_darknet53_custom``; Faster R-CNN is GluonCV's ``faster_rcnn_<network>_custom`` layout
built here (proposal counts capped for small images, as for Mask R-CNN). Weights start random
(GluonCV's own initialisers) unless ``--pretrained-base`` gives local ImageNet weights of the
base network or ``--model-zoo`` a GluonCV COCO/VOC detector, whose classes are then reset
(classes with the same name keep their weights).
"""

from __future__ import annotations

import re

import mxnet as mx
import numpy as np

from gluonext.common.model_zoo import fetch_model_zoo
from gluonext.errors import ModelError

# network -> GluonCV ImageNet model whose weights --pretrained-base takes
BASE_MODELS = {
    "mobilenet0.25": "mobilenet0.25",
    "mobilenet1.0": "mobilenet1.0",
    "resnet50_v1": "resnet50_v1",
    "resnet34_v1b": "resnet34_v1b",
    "darknet53": "darknet53",
}


YOLO3_NETWORKS = ("darknet53", "mobilenet1.0", "mobilenet0.25")


FASTER_RCNN_NETWORKS = ("resnet18_v1b", "resnet50_v1b", "resnet101_v1d")


SSD_NETWORKS = {
    "mobilenet0.25": (300,),
    "mobilenet1.0": (300, 512),  # 300: the TF apparel detector's SSD-MobileNet, see below
    "resnet50_v1": (512,),
    "vgg16_atrous": (300, 512),
    "resnet34_v1b": (300,),
}


def ssd_name(network: str, data_shape: int) -> str:
    if network not in SSD_NETWORKS:
        raise ModelError(f"--network {network!r}: SSD takes {', '.join(SSD_NETWORKS)}")
    if data_shape not in SSD_NETWORKS[network]:
        shapes = ", ".join(map(str, SSD_NETWORKS[network]))
        raise ModelError(f"--data-shape {data_shape}: ssd with {network} is built for {shapes}")
    return f"ssd_{data_shape}_{network}_custom"


def _ssd_300_mobilenet1_0(classes, norm=None):
    """SSD-MobileNet1.0 at 300 px (the TensorFlow apparel detector's model), which GluonCV
    has only as a COCO "lite" variant: its 300 px MobileNet0.25 layout (features after
    relu22 / relu26, anchor sizes 21..315, steps 8..300) on the full-width MobileNet."""
    from gluoncv.model_zoo.ssd.ssd import get_ssd

    return get_ssd("mobilenet1.0", 300, features=["relu22_fwd", "relu26_fwd"],
                   filters=[512, 256, 256, 128], sizes=[21, 45, 99, 153, 207, 261, 315],
                   ratios=[[1, 2, 0.5]] + [[1, 2, 0.5, 3, 1.0 / 3]] * 3 + [[1, 2, 0.5]] * 2,
                   steps=[8, 16, 32, 64, 100, 300], classes=list(classes), dataset="",
                   pretrained=False, pretrained_base=False, **_norm_kwargs(norm))  # fmt: skip


def _norm_kwargs(norm) -> dict:
    """GluonCV's ``norm_layer`` / ``norm_kwargs`` arguments for ``norm`` = (layer, kwargs)."""
    return {} if norm is None else {"norm_layer": norm[0], "norm_kwargs": norm[1]}


def build_ssd(network: str, data_shape: int, classes, pretrained_base: str | None = None,
              norm=None):  # fmt: skip
    """GluonCV's SSD for ``classes``, initialised with GluonCV's initialisers (``norm``:
    SyncBatchNorm with ``--syncbn``)."""
    import gluoncv

    name = ssd_name(network, data_shape)
    if (network, data_shape) == ("mobilenet1.0", 300):
        net = _ssd_300_mobilenet1_0(classes, norm)
    else:
        net = gluoncv.model_zoo.get_model(
            name, classes=list(classes), pretrained_base=False, transfer=None, **_norm_kwargs(norm)
        )
    net.initialize()
    _settle_shapes(net, data_shape)
    reset_expander_statistics(net)
    if pretrained_base:
        transfer_base_weights(net, network, pretrained_base)
    return net


def reset_expander_statistics(net) -> int:
    """Start the BatchNorm layers of SSD's extra feature layers at mean 0, variance 1.

    GluonCV builds those layers as a symbol inside a ``SymbolBlock``, whose running
    statistics have no initialiser of their own, so ``initialize()`` draws them from
    Uniform(-0.07, 0.07): negative variances, and NaN from every such layer in inference
    until training has averaged them away (0.9 per iteration). Returns how many were reset.
    """
    count = 0
    for name, param in net.collect_params().items():
        if param.init is None and name.endswith(("_moving_mean", "_moving_var")):
            value = 1.0 if name.endswith("_moving_var") else 0.0
            param.set_data(mx.nd.full(param.shape, value))
            count += 1
    return count


def _settle_shapes(net, side: int) -> None:
    """One inference pass, so deferred parameter shapes are known."""
    with mx.autograd.predict_mode():
        net(mx.nd.zeros((1, 3, side, side)))


def build_yolo3(network: str, classes, pretrained_base: str | None = None, norm=None):
    """GluonCV's ``yolo3_<network>_custom`` for ``classes``, initialised as GluonCV does."""
    import gluoncv

    if network not in YOLO3_NETWORKS:
        raise ModelError(f"--network {network!r}: YOLOv3 takes {', '.join(YOLO3_NETWORKS)}")
    net = gluoncv.model_zoo.get_model(
        f"yolo3_{network}_custom",
        classes=list(classes),
        pretrained_base=False,
        transfer=None,
        **_norm_kwargs(norm),
    )
    net.initialize()
    if pretrained_base:
        _settle_shapes(net, 320)
        transfer_base_weights(net, network, pretrained_base)
    return net


def transfer_base_weights(net, network: str, path: str) -> int:
    """Copy ImageNet weights of the base network (a local ``.params`` file saved from GluonCV's
    ``network`` classifier) into the detector's copy of it; returns the number of arrays.

    The detector holds the base's layers under its own prefixes (``ssd0_mobilenet0_conv0``),
    so arrays are matched by the layer name after the base's prefix, and every match must
    also agree in shape. A file that fits nothing is an error, not a silent no-op.
    """
    from pathlib import Path

    import gluoncv

    if network not in BASE_MODELS:
        raise ModelError(f"--pretrained-base: no ImageNet base is known for {network!r}")
    if not Path(path).is_file():
        raise ModelError(f"--pretrained-base {path}: file not found")
    base = gluoncv.model_zoo.get_model(BASE_MODELS[network], pretrained=False)
    try:
        base.load_parameters(str(path))  # strict: the whole classifier must be in the file
    except (mx.base.MXNetError, AssertionError, ValueError) as exc:
        raise ModelError(
            f"--pretrained-base {path}: not GluonCV's {BASE_MODELS[network]} weights "
            f"({str(exc).splitlines()[0][:160]})"
        ) from None
    family = re.sub(r"\d+_$", "", base.prefix)
    targets = net.collect_params()
    copied = 0
    for name, param in base.collect_params().items():
        rest = name[len(base.prefix) :]
        pattern = re.compile(rf"(^|_){re.escape(family)}\d+_{re.escape(rest)}$")
        found = [t for t in targets.keys() if pattern.search(t)]
        if len(found) != 1:
            continue  # the classifier's own layers are not part of the detector
        target = targets[found[0]]
        value = param.data()
        if target.shape != value.shape:
            raise ModelError(
                f"--pretrained-base {path}: {rest} is {value.shape}, the detector has "
                f"{target.shape}"
            )
        target.set_data(value)
        copied += 1
    if copied == 0:
        raise ModelError(f"--pretrained-base {path}: no array fits the {network} base network")
    return copied


def load_model_zoo_detector(name: str, classes, root: str | None = None):
    """A pretrained GluonCV detector with its classes reset (same-name classes reused)."""
    net = fetch_model_zoo(name, root)
    old = list(getattr(net, "classes", []))
    reuse = [c for c in classes if c in old]
    net.reset_class(list(classes), reuse_weights=reuse or None)
    return net


def ssd_anchors(net, data_shape: int, ctx=None):
    """The anchors GluonCV's SSD target generator needs, from one training-mode forward of
    ``net``; BatchNorm's running statistics, which that forward moves, are put back. (A copy
    of the network cannot be used: once a pretrained base has been loaded, its feature
    extractor holds a compiled graph that does not deep-copy.)"""
    ctx = ctx or mx.cpu()
    x = mx.nd.zeros((1, 3, data_shape, data_shape), ctx=ctx)
    with mx.autograd.predict_mode():
        net(x)  # settles deferred shapes without touching the statistics
    frozen = [p for p in net.collect_params().values() if p.grad_req == "null"]
    saved = [[copy.copy() for copy in p.list_data()] for p in frozen]
    with mx.autograd.train_mode():
        _, _, anchors = net(x)
    for param, copies in zip(frozen, saved, strict=True):
        for target, value in zip(param.list_data(), copies, strict=True):
            value.copyto(target)
    return anchors


def build_faster_rcnn(
    network: str,
    classes,
    short: int | tuple[int, int] = 600,
    max_size: int = 1000,
    pretrained_base: str | None = None,
    per_device_batch_size: int = 1,
    num_sample: int = 128,
    use_fpn: bool = False,
    max_pre_nms: int | None = None,
    max_post_nms: int | None = None,
):
    """GluonCV's ``faster_rcnn_<network>_custom`` (ResNet C4, VOC settings: short 600, max
    1000, ``num_sample`` = 128 RoIs per image in training; on a CPU the per-RoI head sets
    most of the cost) for ``classes``, with the RPN's proposal counts capped by the
    anchors of the smallest image and by ``max_pre_nms`` / ``max_post_nms`` (before and after
    its NMS, in training and test). With ImageNet weights BatchNorm and the stem stay frozen
    as in GluonCV; from random weights every layer trains and BatchNorm uses batch
    statistics. ``use_fpn``: GluonCV's ``faster_rcnn_fpn_<network>`` layout instead (P2-P6,
    a 2 x 1024 box head, RoIs of 7 x 7). Call ``gluonext.rcnn.model.initialize`` before use."""
    from gluoncv.model_zoo.rcnn.faster_rcnn.faster_rcnn import FasterRCNN
    from mxnet.gluon import nn

    from gluonext.engine.compat import fix_cpu_roi_align
    from gluonext.rcnn.model import anchor_budget, rcnn_backbone

    if network not in FASTER_RCNN_NETWORKS:
        raise ModelError(
            f"--network {network!r}: Faster R-CNN takes {', '.join(FASTER_RCNN_NETWORKS)}"
        )
    if not classes:
        raise ModelError("no classes to detect")
    smallest = min(short) if isinstance(short, (tuple, list)) else short
    # C4: 3 scales x 3 ratios on stride 16; FPN: 3 ratios on each of 5 strides
    budget = anchor_budget(smallest, use_fpn=use_fpn, per_cell=3 if use_fpn else 9)
    budget = min(budget, max_pre_nms or budget)
    post_cap = max_post_nms or 2000
    train_pre, test_pre = min(12000, budget), min(6000, budget)
    train_post, test_post = min(2000, train_pre, post_cap), min(300, test_pre, post_cap)
    base = rcnn_backbone(network, pretrained_base, trainable_norm=pretrained_base is None)
    common = dict(
        classes=list(classes), short=short, max_size=max_size,
        rpn_train_pre_nms=train_pre, rpn_train_post_nms=train_post, rpn_test_pre_nms=test_pre,
        rpn_test_post_nms=test_post, num_sample=min(num_sample, train_post),
        per_device_batch_size=per_device_batch_size,
    )  # fmt: skip
    if use_fpn:
        return fix_cpu_roi_align(_fpn_faster_rcnn(network, base, bool(pretrained_base), common))
    features, top_features = nn.HybridSequential(), nn.HybridSequential()
    for layer in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"):
        features.add(getattr(base, layer))
    top_features.add(base.layer4)
    frozen = "|".join([".*dense", ".*rpn", ".*down(2|3|4)_conv", ".*layers(2|3|4)_conv"])
    net = FasterRCNN(
        features,
        top_features,
        classes=list(classes),
        short=short,
        max_size=max_size,
        train_patterns=frozen if pretrained_base else None,
        rpn_train_pre_nms=train_pre,
        rpn_train_post_nms=train_post,
        rpn_test_pre_nms=test_pre,
        rpn_test_post_nms=test_post,
        num_sample=min(num_sample, train_post),
        per_device_batch_size=per_device_batch_size,
    )
    return fix_cpu_roi_align(net)


RANDOM_SHAPE_INTERVAL = 10  # batches between shape changes, as GluonCV's YOLOv3 loader


def random_shape_sides(data_shape: int) -> tuple[int, ...]:
    """YOLOv3's input sides for ``--data-shape``: GluonCV trains 416 with 320..608 (steps of
    32), i.e. from 96 below to 192 above; the same span around any other shape."""
    return tuple(range(max(32, data_shape - 96), data_shape + 192 + 1, 32))


class RandomShapeBatchSampler:
    """Batches of ``(index, seed, side)``: the order and seeds of ``SeededBatchSampler``, and
    every ``RANDOM_SHAPE_INTERVAL`` batches a new input side drawn (seeded by seed, epoch and
    the batch group) from ``sides`` (GluonCV's ``RandomTransformDataLoader``)."""

    def __init__(self, indices, batch_size: int, seed: int, epoch: int, sides):
        from gluonext.engine.devices import SeededBatchSampler

        self.inner = SeededBatchSampler(indices, batch_size, seed, epoch)
        self.seed, self.epoch, self.sides = seed, epoch, tuple(sides)

    def side(self, batch_number: int) -> int:
        group = batch_number // RANDOM_SHAPE_INTERVAL
        rng = np.random.RandomState([self.seed & 0xFFFFFFFF, self.epoch, group, 32])
        return int(self.sides[rng.randint(len(self.sides))])

    def __iter__(self):
        for number, batch in enumerate(self.inner):
            side = self.side(number)
            yield [(index, seed, side) for index, seed in batch]

    def __len__(self) -> int:
        return len(self.inner)


class RandomShapeTransform:
    """One YOLOv3 training transform per input side; the batch's side picks it."""

    def __init__(self, make, sides, default: int):
        self.by_side = {side: make(side) for side in sides}
        self.default = default

    def __call__(self, image, label, rng, side=None):
        return self.by_side[side or self.default](image, label, rng)


def _fpn_faster_rcnn(network: str, base, pretrained: bool, common: dict):
    """GluonCV's ``faster_rcnn_fpn_<network>_coco`` layout: an FPN over ResNet stages 1-4
    (+ P6), anchors of one scale and three ratios per level, a two-layer 1024 box head."""
    import mxnet as mx
    from gluoncv.model_zoo.rcnn.faster_rcnn.faster_rcnn import FasterRCNN
    from gluoncv.nn.feature import FPNFeatureExpander
    from mxnet.gluon import nn

    from gluonext.rcnn.model import NETWORKS

    features = FPNFeatureExpander(
        network=base, outputs=list(NETWORKS[network][1]), num_filters=[256, 256, 256, 256],
        use_1x1=True, use_upsample=True, use_elewadd=True, use_p6=True, no_bias=False,
        pretrained=pretrained,
    )  # fmt: skip
    box_features = nn.HybridSequential()
    for _ in range(2):
        box_features.add(nn.Dense(1024, weight_initializer=mx.init.Normal(0.01)),
                         nn.Activation("relu"))  # fmt: skip
    frozen = ".*dense|.*rpn|.*down(2|3|4)_conv|.*layers(2|3|4)_conv|P"
    return FasterRCNN(
        features, None, box_features=box_features, min_stage=2, max_stage=6,
        train_patterns=frozen if pretrained else None, roi_mode="align", roi_size=(7, 7),
        strides=(4, 8, 16, 32, 64), clip=4.14, rpn_channel=256, base_size=16,
        scales=(2, 4, 8, 16, 32), ratios=(0.5, 1, 2), alloc_size=(384, 384),
        rpn_nms_thresh=0.7, rpn_min_size=1, **common,
    )  # fmt: skip
