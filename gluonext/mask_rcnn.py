"""Mask R-CNN networks for any class list, with GluonCV's COCO recipes and model-zoo transfer.

GluonCV's ``mask_rcnn_*_coco`` constructors fix the COCO classes and the proposal counts
(12000 / 2000 in training), which exceed the number of anchors of small images. The
networks here are built the same way (same backbones, FPN, heads, NMS settings, train
patterns) for the dataset's classes, with the proposal counts capped by the anchors the
smallest training image has. ``--model-zoo`` takes GluonCV's own pretrained network and
resets its classes, reusing the COCO weights of classes that exist on both sides.
"""

from __future__ import annotations

import math
import os
import types

import mxnet as mx
from mxnet.gluon import nn

from .models import ModelError, load_backbone_weights

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
}
# COCO class -> garment category name, for --model-zoo transfer of the matching classes
COCO_TO_GARMENT = {"tie": "tie", "umbrella": "umbrella", "handbag": "bag, wallet"}

# GluonCV's proposal counts (train pre / post NMS, test pre / post NMS)
RPN_TRAIN_PRE, RPN_TRAIN_POST, RPN_TEST_PRE, RPN_TEST_POST = 12000, 2000, 6000, 1000
ANCHORS_PER_CELL = 15  # 5 scales x 3 ratios


def _pyramid_roi_feats(
    self, F, features, rpn_rois, roi_size, strides, roi_mode="align",
    roi_canonical_scale=224.0, sampling_ratio=2, eps=1e-6,
):  # fmt: skip
    """GluonCV's FPN RoI pooling, without the RoIs of batch index -1.

    GluonCV hides other levels' RoIs from ``ROIAlign`` by setting their batch index to -1.
    MXNet 1.9.1's CPU ``ROIAlign`` then leaves row n of its output uninitialised (any value, up
    to 1e30) and may write a 0 at flat position n instead (inside the first RoI's features), so
    FPN training on the CPU blows up at random. Here every level pools every RoI
    and keeps the rows of its own RoIs (same level rule: ``floor(4 + log2(sqrt(wh) / 224))``,
    P6 not used).
    """
    max_stage = self._max_stage - 1 if self._max_stage > 5 else self._max_stage
    _, x1, y1, x2, y2 = F.split(rpn_rois, axis=-1, num_outputs=5)
    area = (y2 - y1 + 1) * (x2 - x1 + 1)
    level = F.floor(4 + F.log2(F.sqrt(area) / roi_canonical_scale + eps))
    level = F.squeeze(F.clip(level, self._min_stage, max_stage))
    pooled = []
    for i, stage in enumerate(range(self._min_stage, max_stage + 1)):
        here = level == stage
        if roi_mode == "align":
            feature = F.contrib.ROIAlign(
                features[i], rpn_rois, roi_size, 1.0 / strides[i], sample_ratio=sampling_ratio
            )
        else:
            feature = F.ROIPooling(features[i], rpn_rois, roi_size, 1.0 / strides[i])
        pooled.append(F.where(here, feature, F.zeros_like(feature)))
    return F.ElementWiseSum(*pooled)


def fix_cpu_roi_align(net: nn.HybridBlock) -> nn.HybridBlock:
    """Give a GluonCV R-CNN (FPN) the RoI pooling above (same results as GluonCV's on GPUs)."""
    net._pyramid_roi_feats = types.MethodType(_pyramid_roi_feats, net)
    return net


def anchor_budget(short: int, use_fpn: bool, per_cell: int = ANCHORS_PER_CELL) -> int:
    """Anchors of the smallest image the network sees (a square of side ``short / 2``, to leave
    room for images whose long side hits ``max_size``): proposal counts must stay below it."""
    side = max(16, short // 2)
    strides = (4, 8, 16, 32, 64) if use_fpn else (16,)
    return sum(math.ceil(side / s) ** 2 * per_cell for s in strides)


def rcnn_backbone(network: str, pretrained_base: str | None, trainable_norm: bool):
    """GluonCV's ResNet for R-CNN (not dilated); ImageNet weights from a local file if given."""
    import gluoncv

    constructor, _ = NETWORKS[network]
    base = gluoncv.model_zoo.get_model(
        constructor, pretrained=False, dilated=False, use_global_stats=not trainable_norm
    )
    if pretrained_base:
        base.initialize()
        load_backbone_weights(base, pretrained_base)
    return base


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
    """
    from gluoncv.model_zoo.rcnn.mask_rcnn.mask_rcnn import MaskRCNN
    from gluoncv.nn.feature import FPNFeatureExpander

    if network not in NETWORKS:
        raise ModelError(f"--network {network!r}: expected one of {', '.join(NETWORKS)}")
    if not classes:
        raise ModelError("no classes to detect")
    smallest = min(short) if isinstance(short, (tuple, list)) else short
    budget = min(anchor_budget(smallest, use_fpn), max_pre_nms or RPN_TRAIN_PRE)
    post_cap = max_post_nms or RPN_TRAIN_POST
    train_pre, test_pre = min(RPN_TRAIN_PRE, budget), min(RPN_TEST_PRE, budget)
    train_post = min(RPN_TRAIN_POST, train_pre, post_cap)
    test_post = min(RPN_TEST_POST, test_pre, post_cap)

    def samples(default: int) -> int:
        return min(num_sample or default, train_post)

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
        rpn_train_pre_nms=train_pre,
        rpn_train_post_nms=train_post,
        rpn_test_pre_nms=test_pre,
        rpn_test_post_nms=test_post,
        rpn_min_size=1,
        pos_iou_thresh=0.5,
        pos_ratio=0.25,
        per_device_batch_size=per_device_batch_size,
    )
    frozen = "|".join([".*dense", ".*rpn", ".*mask", ".*down(2|3|4)_conv", ".*layers(2|3|4)_conv"])
    if use_fpn:
        features = FPNFeatureExpander(
            network=base,
            outputs=list(NETWORKS[network][1]),
            num_filters=[256, 256, 256, 256],
            use_1x1=True,
            use_upsample=True,
            use_elewadd=True,
            use_p6=True,
            no_bias=False,
            pretrained=bool(pretrained_base),
        )
        box_features = nn.HybridSequential()
        if network != "resnet18_v1b":
            box_features.add(nn.AvgPool2D(pool_size=(3, 3), strides=2, padding=1))
        for _ in range(2):
            box_features.add(
                nn.Dense(1024, weight_initializer=mx.init.Normal(0.01)), nn.Activation("relu")
            )
        net = MaskRCNN(
            features,
            None,
            box_features=box_features,
            min_stage=2,
            max_stage=6,
            train_patterns=frozen + "|P" if pretrained_base else None,
            roi_size=(7, 7) if network == "resnet18_v1b" else (14, 14),
            strides=(4, 8, 16, 32, 64),
            alloc_size=(384, 384),
            num_sample=samples(512),
            target_roi_scale=2,
            num_fcn_convs=2 if network == "resnet18_v1b" else 4,
            **common,
        )
    else:
        features, top_features = nn.HybridSequential(), nn.HybridSequential()
        for layer in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3"):
            features.add(getattr(base, layer))
        top_features.add(base.layer4)
        net = MaskRCNN(
            features,
            top_features,
            train_patterns=frozen if pretrained_base else None,
            roi_size=(14, 14),
            strides=16,
            alloc_size=(128, 128),
            num_sample=samples(256 if network == "resnet18_v1b" else 128),
            **common,
        )
    if pretrained_base is None if mask_head_norm is None else mask_head_norm:
        convs = (2 if network == "resnet18_v1b" else 4) if use_fpn else 0  # GluonCV's counts
        _normalize_mask_head(net, convs)
    return fix_cpu_roi_align(net)


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
    # Gluon refuses to change a child's type in place: unregister the old head first
    del net.mask.deconv
    net.mask._children.pop("deconv")
    net.mask.deconv = head


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
    from gluoncv.model_zoo.model_store import get_model_file

    try:
        net = gluoncv.model_zoo.get_model(
            name,
            pretrained=False,
            pretrained_base=False,
            per_device_batch_size=per_device_batch_size,
        )
    except ValueError as exc:
        raise ModelError(f"--model-zoo {name!r}: not a GluonCV model ({exc})") from None
    where = str(root or os.path.join("~", ".mxnet", "models"))
    try:
        weights = get_model_file(name, root=where)
    except Exception as exc:  # noqa: BLE001 - download errors come in many types
        raise ModelError(
            f"--model-zoo {name}: pretrained weights are not in {where} and could not be "
            f"downloaded ({exc.__class__.__name__}). Copy the .params file there from a machine "
            "with network, or train without --model-zoo."
        ) from None
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
    if getattr(net, "_target_generator", None) is not None:
        net.target_generator  # noqa: B018 - the property builds and registers it
    for name, param in net.collect_params().items():
        if param._data is None and not param._deferred_init:
            default = mx.init.Zero() if name.endswith("bias") else mx.init.Xavier(magnitude=2)
            param.initialize(ctx=contexts, default_init=default)
    net.collect_params().reset_ctx(contexts)
    if any(p._deferred_init for p in net.collect_params().values()):
        # settle the shapes with one imperative pass: a hybridized first call in test mode fails
        # on the training-only parameters its graph does not contain
        short = net.short[0] if isinstance(net.short, (tuple, list)) else net.short
        with mx.autograd.predict_mode():
            net(mx.nd.zeros((1, 3, short, short), ctx=contexts[0]))


class FasterRCNNLoss:
    """GluonCV's Faster R-CNN training loss: RPN objectness and box, R-CNN class and box, each
    normalised by its number of samples as GluonCV's recipe does. ``__call__`` runs the network
    on one device's shard (inside ``autograd.record``) and returns the summed loss and its
    parts."""

    PARTS = ("rpn_cls", "rpn_box", "rcnn_cls", "rcnn_box")

    def __init__(self, rpn_smoothl1_rho: float = 1.0 / 9, rcnn_smoothl1_rho: float = 1.0):
        gloss = mx.gluon.loss
        self.rpn_cls = gloss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)
        self.rpn_box = gloss.HuberLoss(rho=rpn_smoothl1_rho)
        self.rcnn_cls = gloss.SoftmaxCrossEntropyLoss()
        self.rcnn_box = gloss.HuberLoss(rho=rcnn_smoothl1_rho)

    def box_terms(self, rpn_score, rpn_box, rpn_targets, cls_pred, cls_t, box_pred, box_t, box_m):
        rpn_cls_t, rpn_box_t, rpn_box_m = rpn_targets
        rpn_score = rpn_score.squeeze(axis=-1)
        rpn_valid = rpn_cls_t >= 0
        num_rpn = rpn_valid.sum()
        rpn_cls = self.rpn_cls(rpn_score, rpn_cls_t, rpn_valid) * rpn_cls_t.size / num_rpn
        rpn_box = self.rpn_box(rpn_box, rpn_box_t, rpn_box_m) * rpn_box.size / num_rpn
        num_rcnn = (cls_t >= 0).sum()
        rcnn_cls = (
            self.rcnn_cls(cls_pred, cls_t, cls_t.expand_dims(-1) >= 0) * cls_t.size / num_rcnn
        )
        rcnn_box = self.rcnn_box(box_pred, box_t, box_m) * box_pred.size / num_rcnn
        return [rpn_cls.sum(), rpn_box.sum(), rcnn_cls.sum(), rcnn_box.sum()]

    def __call__(self, net, data, label, rpn_cls_t, rpn_box_t, rpn_box_m):
        gt_box, gt_label = label[:, :, :4], label[:, :, 4:5]
        (cls_pred, box_pred, _roi, _samples, _matches, rpn_score, rpn_box, _anchors,
         cls_t, box_t, box_m, _indices) = net(data, gt_box, gt_label)  # fmt: skip
        parts = self.box_terms(rpn_score, rpn_box, (rpn_cls_t, rpn_box_t, rpn_box_m),
                               cls_pred, cls_t, box_pred, box_t, box_m)  # fmt: skip
        return sum(parts), tuple(parts)


class MaskRCNNLoss(FasterRCNNLoss):
    """GluonCV's Mask R-CNN training loss: the four box terms and the mask term."""

    PARTS = (*FasterRCNNLoss.PARTS, "mask")

    def __init__(self, rpn_smoothl1_rho: float = 1.0 / 9, rcnn_smoothl1_rho: float = 1.0):
        super().__init__(rpn_smoothl1_rho, rcnn_smoothl1_rho)
        self.mask = mx.gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)

    def __call__(self, net, data, label, gt_mask, rpn_cls_t, rpn_box_t, rpn_box_m):
        nd = mx.nd
        gt_box, gt_label = label[:, :, :4], label[:, :, 4:5]
        (cls_pred, box_pred, mask_pred, roi, _samples, matches, rpn_score, rpn_box, _anchors,
         cls_t, box_t, box_m, indices) = net(data, gt_box, gt_label)  # fmt: skip
        parts = self.box_terms(rpn_score, rpn_box, (rpn_cls_t, rpn_box_t, rpn_box_m),
                               cls_pred, cls_t, box_pred, box_t, box_m)  # fmt: skip
        # mask targets for the sampled positive RoIs
        batch = indices.shape[0]

        def pick(x):
            return nd.concat(*[nd.take(x[i], indices[i]) for i in range(batch)], dim=0)

        roi = pick(roi).reshape((batch, -1, 4))
        m_cls = pick(cls_t).reshape((batch, -1))
        matches = pick(matches).reshape((batch, -1))
        mask_t, mask_w = net.mask_target(roi, gt_mask, matches, m_cls)
        mask = self.mask(mask_pred, mask_t, mask_w) * mask_t.size / mask_w.sum()
        parts.append(mask.sum())
        return sum(parts), tuple(parts)


def build_from_meta(meta: dict) -> nn.HybridBlock:
    """The network a checkpoint was trained with (its ``meta``), weights not loaded."""
    if meta.get("model_zoo"):
        from gluoncv import model_zoo

        net = model_zoo.get_model(meta["model_zoo"], pretrained=False, pretrained_base=False)
        initialize(net, [mx.cpu()])
        net.reset_class(list(meta["classes"]))
        net.short, net.max_size = meta["short"], meta["max_size"]
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
    )
