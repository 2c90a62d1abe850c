"""GluonCV's Faster R-CNN training loss (Mask R-CNN adds its mask term to it)."""

from __future__ import annotations

import mxnet as mx


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
