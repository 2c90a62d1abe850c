"""Segmentation networks: GluonCV's FCN / PSPNet / DeepLabV3 / DeepLabV3+ recipes on any ResNet.

GluonCV's heads assume 2048-channel features, so ResNet-18/34 (512 channels, what a CPU can
train) fail there. The heads here take their widths from the backbone, resize with
``BilinearResize2D(mode='like')`` so one network serves any input size (training crops,
whole images, multi-scale tests), and DeepLabV3+ gets its decoder on ResNet's stride-4
features as well as on GluonCV's Xception. ``--model-zoo`` models come from GluonCV itself.
"""

from __future__ import annotations

import mxnet as mx
from mxnet.gluon import nn

from gluonext.common.model_zoo import fetch_model_zoo, load_backbone_weights
from gluonext.engine.compat import replace_child
from gluonext.errors import ModelError

MODEL_ALIASES = {
    "fcn": "fcn",
    "psp": "psp",
    "pspnet": "psp",
    "deeplab": "deeplabv3",
    "deeplabv3": "deeplabv3",
    "deeplabplus": "deeplabv3plus",
    "deeplabv3plus": "deeplabv3plus",
    "fastscnn": "fastscnn",
    "icnet": "icnet",
    "deeplabv3b_plus": "deeplabv3b_plus",
    "deeplabv3bplus": "deeplabv3b_plus",
}

# GluonCV's networks whose upsampling is fixed to the training crop: one input size only
# (validation on centre crops, prediction letterboxed to the crop), their own backbones
FIXED_SIZE_MODELS = {
    "fastscnn": "fastscnn",  # Fast-SCNN: real time, its own encoder
    "icnet": "resnet50",  # ICNet (GluonCV's icnet_resnet50_mhpv1 is a human-parsing model)
    "deeplabv3b_plus": "wideresnet",  # DeepLabV3+ on WideResNet-38 (GluonCV's deeplab_v3b_plus)
}


# backbone -> (GluonCV constructor name, stride-4 channels, stride-8 (c3) channels, c4 channels)
BACKBONES = {
    "resnet18": ("resnet18_v1b", 64, 256, 512),
    "resnet34": ("resnet34_v1b", 64, 256, 512),
    "resnet50": ("resnet50_v1s", 256, 1024, 2048),
    "resnet101": ("resnet101_v1s", 256, 1024, 2048),
    "resnet152": ("resnet152_v1s", 256, 1024, 2048),
}


def _resize_like(F, x, like):
    return F.contrib.BilinearResize2D(x, like=like, mode="like")


def _conv_bn_relu(channels, kernel, norm_layer, norm_kwargs, dilation=1, in_channels=0):
    block = nn.HybridSequential(prefix="")
    padding = dilation * (kernel // 2)
    block.add(
        nn.Conv2D(
            channels,
            kernel,
            padding=padding,
            dilation=dilation,
            use_bias=False,
            in_channels=in_channels,
        )
    )
    block.add(norm_layer(in_channels=channels, **(norm_kwargs or {})))
    block.add(nn.Activation("relu"))
    return block


def _classifier(in_channels, inter_channels, nclass, norm_layer, norm_kwargs, dropout=0.1):
    block = nn.HybridSequential(prefix="")
    block.add(_conv_bn_relu(inter_channels, 3, norm_layer, norm_kwargs, in_channels=in_channels))
    block.add(nn.Dropout(dropout))
    block.add(nn.Conv2D(nclass, 1, in_channels=inter_channels))
    return block


class FCNHead(nn.HybridBlock):
    """3x3 conv to a quarter of the channels, then 1x1 to classes (GluonCV's _FCNHead)."""

    def __init__(self, in_channels, nclass, norm_layer=nn.BatchNorm, norm_kwargs=None):
        super().__init__()
        with self.name_scope():
            self.block = _classifier(in_channels, in_channels // 4, nclass, norm_layer, norm_kwargs)

    def hybrid_forward(self, F, x):
        return self.block(x)


class PSPHead(nn.HybridBlock):
    """Pyramid pooling over 1, 2, 3, 6 bins, concatenated with the features."""

    def __init__(self, in_channels, nclass, norm_layer=nn.BatchNorm, norm_kwargs=None):
        super().__init__()
        reduced = in_channels // 4
        with self.name_scope():
            self.branches = nn.HybridSequential()
            for _ in range(4):
                self.branches.add(
                    _conv_bn_relu(reduced, 1, norm_layer, norm_kwargs, in_channels=in_channels)
                )
            self.block = _classifier(
                in_channels * 2, in_channels // 4, nclass, norm_layer, norm_kwargs
            )

    def hybrid_forward(self, F, x):
        features = [x]
        for size, branch in zip((1, 2, 3, 6), self.branches, strict=True):
            pooled = F.contrib.AdaptiveAvgPooling2D(x, output_size=size)
            features.append(_resize_like(F, branch(pooled), x))
        return self.block(F.concat(*features, dim=1))


class ASPP(nn.HybridBlock):
    """Atrous spatial pyramid pooling: 1x1, three dilated 3x3, image pooling; 256 channels."""

    def __init__(
        self,
        in_channels,
        rates=(12, 24, 36),
        norm_layer=nn.BatchNorm,
        norm_kwargs=None,
        channels=256,
    ):
        super().__init__()
        with self.name_scope():
            self.branches = nn.HybridSequential()
            self.branches.add(
                _conv_bn_relu(channels, 1, norm_layer, norm_kwargs, in_channels=in_channels)
            )
            for rate in rates:
                self.branches.add(
                    _conv_bn_relu(
                        channels, 3, norm_layer, norm_kwargs, rate, in_channels=in_channels
                    )
                )
            self.pool = _conv_bn_relu(channels, 1, norm_layer, norm_kwargs, in_channels=in_channels)
            self.project = _conv_bn_relu(
                channels, 1, norm_layer, norm_kwargs, in_channels=channels * (len(rates) + 2)
            )
            self.dropout = nn.Dropout(0.5)

    def hybrid_forward(self, F, x):
        outs = [branch(x) for branch in self.branches]
        pooled = self.pool(F.contrib.AdaptiveAvgPooling2D(x, output_size=1))
        outs.append(F.broadcast_like(pooled, x, lhs_axes=(2, 3), rhs_axes=(2, 3)))
        return self.dropout(self.project(F.concat(*outs, dim=1)))


class DeepLabHead(nn.HybridBlock):
    """DeepLabV3: ASPP then a 3x3 classifier (GluonCV's _DeepLabHead, any width)."""

    def __init__(self, in_channels, nclass, norm_layer=nn.BatchNorm, norm_kwargs=None):
        super().__init__()
        with self.name_scope():
            self.aspp = ASPP(in_channels, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
            self.block = _classifier(256, 256, nclass, norm_layer, norm_kwargs)

    def hybrid_forward(self, F, x):
        return self.block(self.aspp(x))


class DeepLabPlusHead(nn.HybridBlock):
    """DeepLabV3+: ASPP, upsampled to stride 4 and joined with 48 channels of low-level features."""

    def __init__(
        self, in_channels, low_channels, nclass, norm_layer=nn.BatchNorm, norm_kwargs=None
    ):
        super().__init__()
        with self.name_scope():
            self.aspp = ASPP(in_channels, norm_layer=norm_layer, norm_kwargs=norm_kwargs)
            self.low = _conv_bn_relu(48, 1, norm_layer, norm_kwargs, in_channels=low_channels)
            self.block = nn.HybridSequential(prefix="")
            self.block.add(_conv_bn_relu(256, 3, norm_layer, norm_kwargs, in_channels=304))
            self.block.add(nn.Dropout(0.5))
            self.block.add(_conv_bn_relu(256, 3, norm_layer, norm_kwargs, in_channels=256))
            self.block.add(nn.Dropout(0.1))
            self.block.add(nn.Conv2D(nclass, 1, in_channels=256))

    def hybrid_forward(self, F, x, low):
        low = self.low(low)
        x = _resize_like(F, self.aspp(x), low)
        return self.block(F.concat(x, low, dim=1))


class SegmentationNet(nn.HybridBlock):
    """A dilated ResNet (output stride 8) with one of the heads above, and an optional aux head.

    Returns ``(logits,)`` or ``(logits, aux_logits)`` at the input's resolution, as GluonCV's
    models do, so ``MixSoftmaxCrossEntropyLoss`` applies unchanged.
    """

    def __init__(
        self,
        model,
        backbone,
        nclass,
        aux=False,
        pretrained_base=None,
        norm_layer=nn.BatchNorm,
        norm_kwargs=None,
    ):
        super().__init__()
        from gluoncv.model_zoo import resnetv1b

        factory, low_ch, c3_ch, c4_ch = BACKBONES[backbone]
        self.model, self.aux, self.nclass = model, aux, nclass
        with self.name_scope():
            base = getattr(resnetv1b, factory)(
                pretrained=False, dilated=True, norm_layer=norm_layer, norm_kwargs=norm_kwargs
            )
            if pretrained_base:
                load_backbone_weights(base, pretrained_base)
            self.conv1, self.bn1, self.relu, self.maxpool = (
                base.conv1,
                base.bn1,
                base.relu,
                base.maxpool,
            )
            self.layer1, self.layer2, self.layer3, self.layer4 = (
                base.layer1,
                base.layer2,
                base.layer3,
                base.layer4,
            )
            if model == "fcn":
                self.head = FCNHead(c4_ch, nclass, norm_layer, norm_kwargs)
            elif model == "psp":
                self.head = PSPHead(c4_ch, nclass, norm_layer, norm_kwargs)
            elif model == "deeplabv3":
                self.head = DeepLabHead(c4_ch, nclass, norm_layer, norm_kwargs)
            else:
                self.head = DeepLabPlusHead(c4_ch, low_ch, nclass, norm_layer, norm_kwargs)
            if aux:
                self.auxlayer = FCNHead(c3_ch, nclass, norm_layer, norm_kwargs)
        self._pretrained_base = bool(pretrained_base)

    def head_blocks(self) -> list[nn.Block]:
        """Blocks trained with 10x the base learning rate (GluonCV's recipe)."""
        return [self.head] + ([self.auxlayer] if self.aux else [])

    def hybrid_forward(self, F, x):
        low = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        c3 = self.layer3(self.layer2(low))
        c4 = self.layer4(c3)
        out = self.head(c4, low) if self.model == "deeplabv3plus" else self.head(c4)
        outputs = [_resize_like(F, out, x)]
        if self.aux:
            outputs.append(_resize_like(F, self.auxlayer(c3), x))
        return tuple(outputs)


def canonical_model(name: str) -> str:
    try:
        return MODEL_ALIASES[name.lower()]
    except KeyError:
        raise ModelError(
            f"--model {name!r}: choose from {', '.join(sorted(MODEL_ALIASES))}"
        ) from None


def build_segmentation_model(
    model: str,
    backbone: str,
    nclass: int,
    aux: bool = False,
    pretrained_base: str | None = None,
    crop_size: int = 480,
    norm_layer=nn.BatchNorm,
    norm_kwargs=None,
) -> nn.HybridBlock:
    """The network for ``--model --backbone``; Xception means GluonCV's own DeepLabV3+;
    fastscnn, icnet and deeplabv3b_plus are GluonCV's (their own backbones, one input size:
    ``crop_size``)."""
    model = canonical_model(model)
    if model in FIXED_SIZE_MODELS:
        return fixed_size_model(model, nclass, aux, pretrained_base, crop_size, norm_layer,
                                norm_kwargs)  # fmt: skip
    if backbone == "xception":
        if model != "deeplabv3plus":
            raise ModelError(
                "--backbone xception exists for --model deeplabv3plus only "
                "(GluonCV's Xception-65 DeepLabV3+)"
            )
        from gluoncv.model_zoo.deeplabv3_plus import DeepLabV3Plus

        net = DeepLabV3Plus(
            nclass,
            backbone="xception",
            aux=aux,
            pretrained_base=False,
            crop_size=crop_size,
            norm_layer=norm_layer,
            norm_kwargs=norm_kwargs,
        )
        if pretrained_base:
            raise ModelError(
                "--pretrained-base is supported for ResNet backbones; for Xception "
                "use --model-zoo deeplab_plus_xception_coco"
            )
        return net
    if backbone not in BACKBONES:
        raise ModelError(
            f"--backbone {backbone!r}: choose from {', '.join([*BACKBONES, 'xception'])}"
        )
    return SegmentationNet(model, backbone, nclass, aux, pretrained_base, norm_layer, norm_kwargs)


def fixed_size_model(model, nclass, aux, pretrained_base, crop_size, norm_layer, norm_kwargs):
    """GluonCV's Fast-SCNN, ICNet or DeepLabV3+ (WideResNet) for ``crop_size`` inputs."""
    if pretrained_base:
        raise ModelError(
            f"--pretrained-base: {model} has its own backbone; start from GluonCV's "
            "model zoo (--model-zoo fastscnn_citys, icnet_resnet50_mhpv1, "
            "deeplab_v3b_plus_wideresnet_citys) or from random weights"
        )
    common = dict(crop_size=crop_size, base_size=crop_size, pretrained_base=False,
                  norm_layer=norm_layer, norm_kwargs=norm_kwargs or {})  # fmt: skip
    if model == "fastscnn":
        from gluoncv.model_zoo.fastscnn import FastSCNN

        return FastSCNN(nclass, aux=aux, **common)
    if model == "icnet":
        from gluoncv.model_zoo.icnet import ICNet

        return ICNet(nclass, backbone="resnet50", aux=False, **common)
    from gluoncv.model_zoo.deeplabv3b_plus import DeepLabWV3Plus

    return DeepLabWV3Plus(nclass, aux=False, **common)  # no aux head in GluonCV's


def training_loss(net, model: str, aux_weight: float, crop_size: int):
    """GluonCV's loss for the network: ICNet's cascade loss, else softmax cross-entropy with
    the aux head's term when there is one."""
    from gluoncv.loss import ICNetLoss, MixSoftmaxCrossEntropyLoss

    if canonical_model(model) == "icnet":
        return ICNetLoss(crop_size=crop_size)
    return MixSoftmaxCrossEntropyLoss(aux=bool(getattr(net, "aux", False)), aux_weight=aux_weight)


def backbone_of(model: str, backbone: str) -> str:
    """The backbone a run really has (the fixed-size models bring their own)."""
    return FIXED_SIZE_MODELS.get(canonical_model(model), backbone)


def load_model_zoo(name: str, nclass: int, root: str | None = None) -> nn.HybridBlock:
    """A pretrained GluonCV segmentation network with its classifiers reset to ``nclass``."""
    net = fetch_model_zoo(name, root)
    reset_segmentation_classes(net, nclass)
    return net


def reset_segmentation_classes(net: nn.Block, nclass: int) -> None:
    """Replace the last 1x1 convolution of ``net.head`` (and ``net.auxlayer``) for ``nclass``."""
    for owner_name in ("head", "auxlayer"):
        owner = getattr(net, owner_name, None)
        block = getattr(owner, "block", None) if owner is not None else None
        if block is None:
            continue
        last = block[len(block) - 1]
        if not isinstance(last, nn.Conv2D):
            raise ModelError(f"cannot reset the classifier of {type(net).__name__}.{owner_name}")
        in_channels = last.weight.shape[1]
        with block.name_scope():
            replacement = nn.Conv2D(nclass, 1, in_channels=in_channels)
        replacement.initialize(mx.init.Xavier())
        replace_child(block, str(len(block) - 1), replacement)
    if hasattr(net, "nclass"):
        net.nclass = nclass


def model_from_checkpoint_meta(meta: dict) -> nn.HybridBlock:
    """An uninitialised network shaped as the checkpoint's run described it."""
    args = meta.get("args", {})
    if args.get("model_zoo"):
        import gluoncv

        net = gluoncv.model_zoo.get_model(
            args["model_zoo"], pretrained=False, pretrained_base=False
        )
        reset_segmentation_classes(net, meta["nclass"])
        return net
    return build_segmentation_model(
        meta["model"],
        meta["backbone"],
        meta["nclass"],
        bool(meta.get("aux")),
        None,
        args.get("crop_size", 480),
    )
