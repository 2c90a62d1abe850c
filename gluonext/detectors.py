"""Box detectors from GluonCV's ``*_custom`` constructors, built for the dataset's classes.

``--model ssd --network mobilenet0.25 --data-shape 300`` is GluonCV's
``ssd_300_mobilenet0.25_custom``. Weights start random (GluonCV's own initialisers: Xavier
fails on SSD's BatchNorm vectors) unless ``--pretrained-base`` gives local ImageNet weights
or ``--model-zoo`` a GluonCV COCO/VOC model, whose classes are then reset (classes with the
same name keep their weights).
"""

from __future__ import annotations

import random

import mxnet as mx
import numpy as np

from .models import ModelError, fetch_model_zoo, load_backbone_weights

SSD_NETWORKS = {
    "mobilenet0.25": (300,),
    "mobilenet1.0": (512,),
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


def build_ssd(network: str, data_shape: int, classes, pretrained_base: str | None = None):
    """GluonCV's SSD for ``classes``, initialised with GluonCV's initialisers."""
    import gluoncv

    name = ssd_name(network, data_shape)
    net = gluoncv.model_zoo.get_model(
        name, classes=list(classes), pretrained_base=False, transfer=None
    )
    net.initialize()
    if pretrained_base:
        load_backbone_weights(net.features, pretrained_base)
    return net


def load_model_zoo_detector(name: str, classes, root: str | None = None):
    """A pretrained GluonCV detector with its classes reset (same-name classes reused)."""
    net = fetch_model_zoo(name, root)
    old = list(getattr(net, "classes", []))
    reuse = [c for c in classes if c in old]
    net.reset_class(list(classes), reuse_weights=reuse or None)
    return net


class SeededGluonCVTransform:
    """Run a GluonCV transform (which draws from numpy's and Python's global generators) under
    a per-item seed, restoring both generators afterwards: augmentation repeats exactly."""

    def __init__(self, transform):
        self.transform = transform

    def __call__(self, image: np.ndarray, label: np.ndarray, rng):
        seed = int(rng.randint(2**31 - 1))
        np_state, py_state = np.random.get_state(), random.getstate()
        np.random.seed(seed)
        random.seed(seed)
        try:
            return self.transform(mx.nd.array(image, dtype=np.uint8), label)
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def ssd_anchors(net, data_shape: int, ctx=None):
    """The anchors GluonCV's SSD target generator needs (one training-mode forward)."""
    with mx.autograd.train_mode():
        _, _, anchors = net(mx.nd.zeros((1, 3, data_shape, data_shape), ctx=ctx or mx.cpu()))
    return anchors
