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

* training: ``(*GluonCV's 13 outputs, logits (B * P, A), prior (C, A))``, rows in the order
  of GluonCV's positive samples (the rows of its mask predictions), without their prior rows
  (the loss adds those of the matched ground truths' classes);
* inference: ``(ids, scores, boxes, masks, probabilities (1, K, A))``.

The logits start from each category's log-odds of each attribute on the training annotations
(``prior``, a fixed (classes, attributes) table set by ``set_attribute_prior``; the class of
the matched ground truth selects the row in training, the detected class at inference), and
the layers learn only the departure from them: before training, and for an attribute the
picture does not show, the head answers the category's frequencies, which is the image-blind
baseline; measured without it, the head stayed under that baseline (F1 0.801 against 0.814
with three times the sample data).

The head is called once per forward, so the kept logits are always that forward's (as a
symbol while hybridized, as arrays otherwise).
"""

from __future__ import annotations

import functools

import mxnet as mx
import numpy as np
from mxnet import autograd
from mxnet.gluon import nn

from gluonext.instance.attributes import RARE

PRIOR_LOGIT = float(np.log(RARE / (1 - RARE)))


def add_class_prior(F, logits, prior, class_index, num_classes: int):
    """``logits`` plus the ``prior`` rows of ``class_index`` (0-based classes, one per row;
    below 0, no class, takes row 0): inside the graph at inference, in the loss in training."""
    return logits + F.take(prior, F.clip(F.reshape(class_index, (-1,)), 0, num_classes - 1))


class MaskAndAttributeHead(nn.HybridBlock):
    """GluonCV's mask head, and attribute logits for the same RoI features."""

    def __init__(self, mask_head: nn.HybridBlock, num_attributes: int, num_classes: int,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.mask_head = mask_head
        with self.name_scope():
            self.features = nn.HybridSequential()
            self.features.add(nn.Conv2D(64, 1, activation="relu"),
                              nn.Dense(512, activation="relu"))  # fmt: skip
            # the departure from the category's log-odds: none before training
            self.attributes = nn.Dense(num_attributes, weight_initializer=mx.init.Normal(0.01))
            # until set from training annotations, a rare attribute's odds for every category
            self.prior = self.params.get("prior", shape=(num_classes, num_attributes),
                                         init=mx.init.Constant(PRIOR_LOGIT), grad_req="null",
                                         differentiable=False)  # fmt: skip
        self.num_attributes = num_attributes
        self.num_classes = num_classes
        self.logits = None
        self.prior_table = None

    def hybrid_forward(self, F, x, prior):
        self.logits = self.attributes(self.features(x))
        self.prior_table = F.BlockGrad(prior)  # fixed: no gradient flows into it
        return self.mask_head(x)

    def set_attribute_prior(self, log_odds: np.ndarray) -> None:
        """Each category's log-odds of each attribute (classes x attributes)."""
        log_odds = np.asarray(log_odds, np.float32)
        if log_odds.shape != self.prior.shape:
            raise ValueError(f"attribute prior of shape {log_odds.shape}, the head has "
                             f"{self.prior.shape}")  # fmt: skip
        self.prior.set_data(mx.nd.array(log_odds))

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
            head = self.mask
            if autograd.is_training():  # the loss adds the matched ground truth's rows
                return (*outputs, head.logits, head.prior_table)
            logits = add_class_prior(F, head.logits, head.prior_table, outputs[0],
                                     head.num_classes)  # fmt: skip
            probabilities = F.sigmoid(logits).reshape((1, -1, head.num_attributes))
            return (*outputs, probabilities)

    return AttributeMaskRCNN


def add_attribute_head(net, num_attributes: int):
    """Give a built GluonCV ``MaskRCNN`` (ours or the model zoo's, after any change to its mask
    layers) the attribute head: its mask head wrapped, its class the subclass with the extra
    output (no state of its own, so the object is otherwise unchanged)."""
    from gluonext.engine.compat import replace_child

    net.__class__ = attribute_mask_rcnn_class()
    with net.name_scope():
        head = MaskAndAttributeHead(net.mask, num_attributes, len(net.classes), prefix="attr_")
    replace_child(net, "mask", head)
    return net
