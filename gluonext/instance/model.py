"""Mask R-CNN networks for any class list, with GluonCV's COCO recipes and model-zoo transfer.

GluonCV's ``mask_rcnn_*_coco`` constructors fix the COCO classes and the proposal counts
(12000 / 2000 in training), which exceed the number of anchors of small images. The
networks here are built the same way (same backbones, FPN, heads, NMS settings, train
patterns) for the dataset's classes, with the proposal counts capped by the anchors the
smallest training image has. ``--model-zoo`` takes GluonCV's own pretrained network and
resets its classes, reusing the COCO weights of classes that exist on both sides.
"""

from __future__ import annotations

import mxnet as mx
from mxnet.gluon import nn

from gluonext.engine.compat import fix_cpu_roi_align, replace_child
from gluonext.errors import ModelError
from gluonext.instance.attribute_head import add_attribute_head
from gluonext.rcnn.model import (
    NETWORKS,
    RPN_TEST_POST,
    RPN_TEST_PRE,
    RPN_TRAIN_POST,
    RPN_TRAIN_PRE,
    anchor_budget,
    initialize,
    rcnn_backbone,
)


def build_mask_rcnn(
    network: str,
    classes: list[str],
    use_fpn: bool = False,
    short: int | tuple[int, int] = 800,
    max_size: int = 1333,
    pretrained_base: str | None = None,
    per_device_batch_size: int = 1,
    num_sample: int | None = None,
    max_pre_nms: int | None = None,
    max_post_nms: int | None = None,
    mask_head_norm: bool | None = None,
    num_attributes: int = 0,
) -> nn.HybridBlock:
    """Mask R-CNN for ``classes`` with GluonCV's COCO settings for ``network``.

    With ImageNet weights (``pretrained_base``, a local ``.params`` file) the recipe is
    GluonCV's: BatchNorm frozen, stem and first stage frozen. From random weights frozen
    layers would stay random, so every layer trains, BatchNorm uses batch statistics and the
    mask head gets GroupNorm (``mask_head_norm``, default: without ImageNet weights): its
    unnormalised convolutions start with logits around +-4 and training from scratch diverged
    within 40 iterations in every CPU run we made, with GroupNorm it did not.
    ``num_sample`` (RoIs sampled per image in training) defaults to GluonCV's value;
    ``max_pre_nms`` / ``max_post_nms`` cap the RPN's proposal counts before and after NMS
    (training and test). On a CPU, NMS and the per-RoI heads set most of the cost.
    ``num_attributes`` > 0 adds Fashionpedia's attribute head (``attribute_head``).
    """
    if network not in NETWORKS:
        raise ModelError(f"--network {network!r}: expected one of {', '.join(NETWORKS)}")
    if network.startswith("mobilenet") and not use_fpn:
        raise ModelError(f"--network {network}: GluonCV builds it in the FPN layout; add --use-fpn")
    if not classes:
        raise ModelError("no classes to detect")
    smallest = min(short) if isinstance(short, (tuple, list)) else short
    rpn, train_post = _proposal_counts(smallest, use_fpn, max_pre_nms, max_post_nms)
    base = rcnn_backbone(network, pretrained_base, trainable_norm=pretrained_base is None)
    common = dict(
        classes=list(classes),
        mask_channels=256,
        rcnn_max_dets=1000,
        short=short,
        max_size=max_size,
        nms_thresh=0.5,
        nms_topk=-1,
        post_nms=-1,
        roi_mode="align",
        clip=4.42,
        rpn_channel=1024,
        base_size=16,
        scales=(2, 4, 8, 16, 32),
        ratios=(0.5, 1, 2),
        rpn_nms_thresh=0.7,
        **rpn,
        rpn_min_size=1,
        pos_iou_thresh=0.5,
        pos_ratio=0.25,
        per_device_batch_size=per_device_batch_size,
    )
    build = _fpn_mask_rcnn if use_fpn else _c4_mask_rcnn

    def samples(default: int) -> int:  # RoIs sampled per image in training
        return min(num_sample or default, train_post)

    net = build(network, base, bool(pretrained_base), samples, common)
    if pretrained_base is None if mask_head_norm is None else mask_head_norm:
        convs = (2 if network in ("resnet18_v1b", "mobilenet1.0") else 4) if use_fpn else 0
        _normalize_mask_head(net, convs)
    if num_attributes:
        add_attribute_head(net, num_attributes)
    return fix_cpu_roi_align(net)


# layers GluonCV trains when the backbone has ImageNet weights (the rest stays frozen)
_TRAIN_PATTERNS = "|".join(
    [".*dense", ".*rpn", ".*mask", ".*down(2|3|4)_conv", ".*layers(2|3|4)_conv"]
)


def _proposal_counts(smallest: int, use_fpn: bool, max_pre_nms, max_post_nms):
    """GluonCV's RPN proposal counts, capped by the anchors of the smallest image and by the
    user's caps; returns the constructor's four ``rpn_*_nms`` arguments and the training
    post-NMS count (the most RoIs an image can sample)."""
    budget = min(anchor_budget(smallest, use_fpn), max_pre_nms or RPN_TRAIN_PRE)
    post_cap = max_post_nms or RPN_TRAIN_POST
    train_pre, test_pre = min(RPN_TRAIN_PRE, budget), min(RPN_TEST_PRE, budget)
    train_post = min(RPN_TRAIN_POST, train_pre, post_cap)
    counts = {
        "rpn_train_pre_nms": train_pre,
        "rpn_train_post_nms": train_post,
        "rpn_test_pre_nms": test_pre,
        "rpn_test_post_nms": min(RPN_TEST_POST, test_pre, post_cap),
    }
    return counts, train_post


def _fpn_mask_rcnn(network: str, base, pretrained: bool, samples, common: dict):
    """GluonCV's ``mask_rcnn_fpn_<network>_coco`` layout."""
    from gluoncv.model_zoo.rcnn.mask_rcnn.mask_rcnn import MaskRCNN
    from gluoncv.nn.feature import FPNFeatureExpander

    features = FPNFeatureExpander(
        network=base,
        outputs=list(NETWORKS[network][1]),
        num_filters=[256, 256, 256, 256],
        use_1x1=True,
        use_upsample=True,
        use_elewadd=True,
        use_p6=True,
        no_bias=False,
        pretrained=pretrained,
    )
    box_features = nn.HybridSequential()
    if network != "resnet18_v1b":
        box_features.add(nn.AvgPool2D(pool_size=(3, 3), strides=2, padding=1))
    if network.startswith("mobilenet"):  # GluonCV's: a 3 x 3 convolution, then one dense
        box_features.add(nn.Conv2D(256, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
                         nn.Dense(1024, weight_initializer=mx.init.Normal(0.01)),
                         nn.Activation("relu"))  # fmt: skip
    else:
        for _ in range(2):
            box_features.add(
                nn.Dense(1024, weight_initializer=mx.init.Normal(0.01)), nn.Activation("relu")
            )
    return MaskRCNN(
        features,
        None,
        box_features=box_features,
        min_stage=2,
        max_stage=6,
        train_patterns=(
            ("(?!.*moving)" if network.startswith("mobilenet") else _TRAIN_PATTERNS + "|P")
            if pretrained
            else None
        ),  # fmt: skip
        roi_size=(7, 7) if network == "resnet18_v1b" else (14, 14),
        strides=(4, 8, 16, 32, 64),
        alloc_size=(384, 384),
        num_sample=samples(512),
        target_roi_scale=2,
        num_fcn_convs=2 if network in ("resnet18_v1b", "mobilenet1.0") else 4,
        **common,
    )


def _c4_mask_rcnn(network: str, base, pretrained: bool, samples, common: dict):
    """GluonCV's ``mask_rcnn_<network>_coco`` layout (features to stage 3, stage 4 per RoI)."""
    from gluoncv.model_zoo.rcnn.mask_rcnn.mask_rcnn import MaskRCNN

    features, top_features = nn.HybridSequential(), nn.HybridSequential()
    for layer in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"):
        features.add(getattr(base, layer))
    top_features.add(base.layer4)
    return MaskRCNN(
        features,
        top_features,
        train_patterns=_TRAIN_PATTERNS if pretrained else None,
        roi_size=(14, 14),
        strides=16,
        alloc_size=(128, 128),
        num_sample=samples(256 if network == "resnet18_v1b" else 128),
        **common,
    )


def _normalize_mask_head(net, num_convs: int, channels: int = 256, groups: int = 32) -> None:
    """Replace GluonCV's mask head (``num_convs`` 3x3 convolutions, then a 2x deconvolution) by
    the same layers each followed by GroupNorm and ReLU."""
    init = mx.init.Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)
    with net.mask.name_scope():
        head = nn.HybridSequential(prefix="normhead_")
        with head.name_scope():
            for _ in range(num_convs):
                head.add(nn.Conv2D(channels, 3, padding=1, weight_initializer=init))
                head.add(nn.GroupNorm(num_groups=groups), nn.Activation("relu"))
            head.add(nn.Conv2DTranspose(channels, 2, strides=2, weight_initializer=init))
            head.add(nn.GroupNorm(num_groups=groups), nn.Activation("relu"))
    replace_child(net.mask, "deconv", head)


def build_from_meta(meta: dict) -> nn.HybridBlock:
    """The network a checkpoint was trained with (its ``meta``), weights not loaded."""
    if meta.get("model_zoo"):
        from gluoncv import model_zoo

        net = model_zoo.get_model(meta["model_zoo"], pretrained=False, pretrained_base=False)
        initialize(net, [mx.cpu()])
        net.reset_class(list(meta["classes"]))
        net.short, net.max_size = meta["short"], meta["max_size"]
        if meta.get("attributes"):
            add_attribute_head(net, len(meta["attributes"]))
        return fix_cpu_roi_align(net)
    return build_mask_rcnn(
        meta["network"],
        list(meta["classes"]),
        meta["use_fpn"],
        tuple(meta["short"]),
        meta["max_size"],
        num_sample=meta.get("num_sample"),
        max_pre_nms=meta.get("max_pre_nms"),
        max_post_nms=meta.get("max_post_nms"),
        mask_head_norm=meta.get("mask_head_norm", True),
        num_attributes=len(meta.get("attributes") or ()),
    )
