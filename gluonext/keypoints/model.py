"""Pose networks for garment keypoints and their heatmap loss.

``simple_pose_<network>`` is GluonCV's SimpleBaseline (ResNet v1b / v1d, three
deconvolutions, a 1x1 head); ``mobile_pose_<network>`` GluonCV's light version on MobileNets
(and ResNets) for phones. Both give ``num_joints`` heatmaps at a quarter of the input.
"""

from __future__ import annotations

import mxnet as mx

from gluonext.errors import ModelError

NETWORKS = ("resnet18_v1b", "resnet50_v1b", "resnet50_v1d", "resnet101_v1b", "resnet101_v1d",
            "resnet152_v1b", "resnet152_v1d")  # fmt: skip
MOBILE_NETWORKS = ("mobilenet1.0", "mobilenetv2_1.0", "mobilenetv3_large", "mobilenetv3_small",
                   "resnet18_v1b", "resnet50_v1b")  # fmt: skip
FAMILIES = {"simple_pose": NETWORKS, "mobile_pose": MOBILE_NETWORKS}


def build_pose_net(model: str, network: str, num_joints: int, pretrained_base=None):
    """GluonCV's ``<model>_<network>`` (model: simple_pose or mobile_pose), initialised; the
    ImageNet ResNet of a SimplePose from a local ``.params`` file when given."""
    import gluoncv

    if model not in FAMILIES:
        raise ModelError(f"--model {model!r}: choose from {', '.join(FAMILIES)}")
    if network not in FAMILIES[model]:
        raise ModelError(f"--network {network!r}: {model} takes {', '.join(FAMILIES[model])}")
    if model == "simple_pose":
        return build_simple_pose(network, num_joints, pretrained_base)
    if pretrained_base:
        raise ModelError("--pretrained-base: ImageNet weights load into simple_pose's ResNets; "
                         "for mobile_pose start from random weights")  # fmt: skip
    net = gluoncv.model_zoo.get_model(
        f"mobile_pose_{network}", num_joints=num_joints, pretrained=False, pretrained_base=False
    )
    net.initialize()
    return net


def build_simple_pose(network: str, num_joints: int, pretrained_base: str | None = None):
    """GluonCV's ``simple_pose_<network>`` with ``num_joints`` heatmaps, initialised; ImageNet
    weights of the ResNet from a local ``.params`` file when given."""
    import gluoncv

    if network not in NETWORKS:
        raise ModelError(f"--network {network!r}: choose from {', '.join(NETWORKS)}")
    net = gluoncv.model_zoo.get_model(
        f"simple_pose_{network}", num_joints=num_joints, pretrained=False, pretrained_base=False
    )
    net.initialize()
    if pretrained_base:
        load_resnet_weights(net, network, pretrained_base)
    return net


def load_resnet_weights(net, network: str, path: str) -> None:
    """Copy GluonCV ImageNet ResNet weights (a local file) into the pose network's trunk."""
    from pathlib import Path

    import gluoncv

    if not Path(path).is_file():
        raise ModelError(f"--pretrained-base {path}: file not found")
    base = gluoncv.model_zoo.get_model(network, pretrained=False)
    try:
        base.load_parameters(str(path))
    except (mx.base.MXNetError, AssertionError, ValueError) as exc:
        raise ModelError(
            f"--pretrained-base {path}: not GluonCV's {network} weights ({exc})"
        ) from None
    layers = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    trunk = [getattr(base, name) for name in layers]
    for mine, theirs in zip(net.resnet, trunk, strict=True):
        params, source = mine.collect_params(), theirs.collect_params()
        for (_, p), (_, q) in zip(sorted(params.items()), sorted(source.items()), strict=True):
            p.set_data(q.data())


def load_model_zoo_pose(name: str, num_joints: int, root: str | None = None):
    """GluonCV's COCO-trained ``name`` (``simple_pose_resnet50_v1b``, ``mobile_pose_...``:
    17 human joints) with its last 1 x 1 convolution replaced for ``num_joints`` garment
    landmarks: the trunk and upsampling keep their trained weights."""
    from mxnet.gluon import nn

    from gluonext.common.model_zoo import fetch_model_zoo
    from gluonext.engine.compat import replace_child

    net = fetch_model_zoo(name, root, pretrained_base=False)
    owner, child = (net, "final_layer") if hasattr(net, "final_layer") else (
        net.upsampling, str(len(net.upsampling) - 1))  # fmt: skip
    old = getattr(owner, child) if not child.isdigit() else owner[int(child)]
    if not isinstance(old, nn.Conv2D):
        raise ModelError(f"--model-zoo {name}: no final 1 x 1 convolution to replace")
    with owner.name_scope():
        new = nn.Conv2D(num_joints, 1, use_bias=old.bias is not None,
                        in_channels=old.weight.shape[1])  # fmt: skip
    new.initialize(mx.init.Normal(0.001))
    replace_child(owner, child, new)
    return net


class HeatmapLoss:
    """GluonCV's pose loss: L2 between predicted and target heatmaps, weighted per joint."""

    def __init__(self):
        self.l2 = mx.gluon.loss.L2Loss()

    def __call__(self, prediction, target, weight):
        return self.l2(prediction, target, weight)
