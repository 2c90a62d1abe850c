"""What Faster R-CNN and Mask R-CNN share: backbones, proposal budgets, model-zoo transfer
and initialisation.

GluonCV's R-CNN constructors fix the COCO proposal counts (12000 / 2000 in training),
which exceed the anchors of small images: ``anchor_budget`` caps them. ``--model-zoo``
takes GluonCV's own pretrained network and resets its classes, reusing the COCO weights
of classes that exist on both sides.
"""

from __future__ import annotations

import math
import os

import mxnet as mx
from mxnet.gluon import nn

from gluonext.common.model_zoo import load_backbone_weights, zoo_file
from gluonext.engine.compat import (
    build_target_generator,
    fix_cpu_roi_align,
    is_deferred,
    is_uninitialized,
)
from gluonext.errors import ModelError

# network -> (GluonCV backbone constructor, FPN output layers)
NETWORKS = {
    "resnet18_v1b": (
        "resnet18_v1b",
        ("layers1_relu3_fwd", "layers2_relu3_fwd", "layers3_relu3_fwd", "layers4_relu3_fwd"),
    ),
    "resnet50_v1b": (
        "resnet50_v1b",
        ("layers1_relu8_fwd", "layers2_relu11_fwd", "layers3_relu17_fwd", "layers4_relu8_fwd"),
    ),
    "resnet101_v1d": (
        "resnet101_v1d",
        ("layers1_relu8_fwd", "layers2_relu11_fwd", "layers3_relu68_fwd", "layers4_relu8_fwd"),
    ),
    # GluonCV's mask_rcnn_fpn_syncbn_mobilenet1_0 (FPN only)
    "mobilenet1.0": ("mobilenet1.0", ("relu6_fwd", "relu10_fwd", "relu22_fwd", "relu26_fwd")),
}


# COCO class -> garment category name, for --model-zoo transfer of the matching classes
COCO_TO_GARMENT = {"tie": "tie", "umbrella": "umbrella", "handbag": "bag, wallet"}


# GluonCV's proposal counts (train pre / post NMS, test pre / post NMS)
RPN_TRAIN_PRE, RPN_TRAIN_POST, RPN_TEST_PRE, RPN_TEST_POST = 12000, 2000, 6000, 1000


ANCHORS_PER_CELL = 15  # 5 scales x 3 ratios


def anchor_budget(short: int, use_fpn: bool, per_cell: int = ANCHORS_PER_CELL) -> int:
    """Anchors of the smallest image the network sees (a square of side ``short / 2``, to leave
    room for images whose long side hits ``max_size``): proposal counts must stay below it."""
    side = max(16, short // 2)
    strides = (4, 8, 16, 32, 64) if use_fpn else (16,)
    return sum(math.ceil(side / s) ** 2 * per_cell for s in strides)


def rcnn_backbone(network: str, pretrained_base: str | None, trainable_norm: bool):
    """GluonCV's ResNet (not dilated) or MobileNet for R-CNN; ImageNet weights from a local
    file if given."""
    import gluoncv

    constructor, _ = NETWORKS[network]
    if network.startswith("mobilenet"):
        # a fixed prefix: the FPN's symbol names its parameters after it, so a network built
        # second in a process (Gluon counts mobilenet0_, mobilenet1_ ...) still fits its file
        base = gluoncv.model_zoo.get_model(
            constructor, pretrained=False, prefix="mobilenet0_",
            norm_kwargs={"use_global_stats": not trainable_norm},
        )  # fmt: skip
    else:
        base = gluoncv.model_zoo.get_model(
            constructor, pretrained=False, dilated=False, use_global_stats=not trainable_norm
        )
    if pretrained_base:
        base.initialize()
        load_backbone_weights(base, pretrained_base)
    return base


def load_model_zoo_rcnn(
    name: str,
    classes: list[str],
    short: int | tuple[int, int],
    max_size: int,
    per_device_batch_size: int = 1,
    root: str | os.PathLike | None = None,
) -> nn.HybridBlock:
    """GluonCV's pretrained Mask or Faster R-CNN ``name`` with its classes reset to
    ``classes``; classes it also has (same name, or COCO's tie, umbrella, handbag -> bag)
    keep their trained weights.

    GluonCV's ``pretrained=True`` builds a test-only network (no training target generator),
    so the network is built untrained and the model-zoo weights are loaded into it.
    """
    import gluoncv

    try:
        net = gluoncv.model_zoo.get_model(
            name,
            pretrained=False,
            pretrained_base=False,
            per_device_batch_size=per_device_batch_size,
        )
    except ValueError as exc:
        raise ModelError(f"--model-zoo {name!r}: not a GluonCV model ({exc})") from None
    weights = zoo_file(name, root, f"--model-zoo {name}",
                       "copy the .params file there from a machine with network, or train "
                       "without --model-zoo")  # fmt: skip
    net.load_parameters(weights, ignore_extra=True, allow_missing=True)
    reuse = {c: c for c in classes if c in net.classes}
    reuse.update({new: old for old, new in COCO_TO_GARMENT.items() if new in classes})
    net.reset_class(list(classes), reuse_weights=reuse or None)
    net.short, net.max_size = short, max_size
    return fix_cpu_roi_align(net)


def initialize(net: nn.HybridBlock, contexts) -> None:
    """Initialise what has no weights yet (MSRA-style for convolutions without their own
    initialiser) and place every parameter on ``contexts``. The training target generator
    (GluonCV creates it lazily, with constant parameters) is created first, so training and
    prediction networks hold the same parameters.
    """
    build_target_generator(net)
    for name, param in net.collect_params().items():
        if is_uninitialized(param):
            default = mx.init.Zero() if name.endswith("bias") else mx.init.Xavier(magnitude=2)
            param.initialize(ctx=contexts, default_init=default)
    net.collect_params().reset_ctx(contexts)
    if any(is_deferred(p) for p in net.collect_params().values()):
        # settle the shapes with one imperative pass: a hybridized first call in test mode fails
        # on the training-only parameters its graph does not contain
        short = net.short[0] if isinstance(net.short, (tuple, list)) else net.short
        with mx.autograd.predict_mode():
            net(mx.nd.zeros((1, 3, short, short), ctx=contexts[0]))
