"""Fashionpedia's attribute head on GluonCV's Mask R-CNN: one sigmoid per attribute.

Attribute-Mask R-CNN (Fashionpedia, Jia et al. 2020) predicts each instance's fine-grained
attributes from the features of its RoI. GluonCV's ``MaskRCNN`` runs its mask head on exactly
the RoIs that need attributes (the positive sampled RoIs in training, the final detections at
inference), so the head here wraps the mask head: for the same pooled features it returns the
masks unchanged and keeps the attribute logits of that call, which ``AttributeMaskRCNN`` adds
to the outputs. The logits come from layers of their own (a 1 x 1 convolution to 64 channels,
a 512-unit layer, one output per attribute), not from the box head's shared layers as in
Fashionpedia: on those, at the learning recipe's budget, the attributes stayed at their
frequencies (measured: F1 0.71 against the frequency sets' 0.77 after half the recipe).

* training: ``(*GluonCV's 13 outputs, logits (B * P, A))``, rows in the order of GluonCV's
  positive samples (the rows of its mask predictions);
* inference: ``(ids, scores, boxes, masks, probabilities (1, K, A))``.

The head is called once per forward, so the kept logits are always that forward's (as a
symbol while hybridized, as arrays otherwise).
"""

from __future__ import annotations

import functools

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import nn

# an attribute's probability before training: a garment carries few of the list
PRIOR = 0.02
PRIOR_LOGIT = float(np.log(PRIOR / (1 - PRIOR)))


class MaskAndAttributeHead(nn.HybridBlock):
    """GluonCV's mask head, and attribute logits for the same RoI features."""

    def __init__(self, mask_head: nn.HybridBlock, num_attributes: int, **kwargs):
        super().__init__(**kwargs)
        self.mask_head = mask_head
        with self.name_scope():
            self.features = nn.HybridSequential()
            self.features.add(nn.Conv2D(64, 1, activation="relu"),
                              nn.Dense(512, activation="relu"))  # fmt: skip
            # biases start at a rare attribute's odds, as RetinaNet's classes do
            self.attributes = nn.Dense(num_attributes, weight_initializer=mx.init.Normal(0.01),
                                       bias_initializer=mx.init.Constant(PRIOR_LOGIT))  # fmt: skip
        self.num_attributes = num_attributes
        self.logits = None

    def hybrid_forward(self, F, x):
        self.logits = self.attributes(self.features(x))
        return self.mask_head(x)

    def reset_class(self, classes, reuse_weights=None):
        self.mask_head.reset_class(classes, reuse_weights)


@functools.cache
def attribute_mask_rcnn_class():
    """GluonCV's ``MaskRCNN`` with the attribute outputs (imported late: GluonCV is slow to
    import)."""
    from gluoncv.model_zoo.rcnn.mask_rcnn.mask_rcnn import MaskRCNN

    class AttributeMaskRCNN(MaskRCNN):
        """Mask R-CNN whose mask head is a ``MaskAndAttributeHead``."""

        def hybrid_forward(self, F, x, gt_box=None, gt_label=None):
            outputs = super().hybrid_forward(F, x, gt_box, gt_label)
            logits = self.mask.logits
            if autograd.is_training():
                return (*outputs, logits)
            probabilities = F.sigmoid(logits).reshape((1, -1, self.mask.num_attributes))
            return (*outputs, probabilities)

    return AttributeMaskRCNN


def add_attribute_head(net, num_attributes: int):
    """Give a built GluonCV ``MaskRCNN`` (ours or the model zoo's, after any change to its mask
    layers) the attribute head: its mask head wrapped, its class the subclass with the extra
    output (no state of its own, so the object is otherwise unchanged)."""
    from gluonext.engine.compat import replace_child

    net.__class__ = attribute_mask_rcnn_class()
    with net.name_scope():
        head = MaskAndAttributeHead(net.mask, num_attributes, prefix="attr_")
    replace_child(net, "mask", head)
    return net
