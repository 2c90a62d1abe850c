"""GluonCV's Mask R-CNN training loss: the four box terms and the mask term (and, for a
network with Fashionpedia's attribute head, the attribute term)."""

from __future__ import annotations

import mxnet as mx

from gluonext.instance.attribute_head import add_class_prior
from gluonext.rcnn.loss import FasterRCNNLoss


class MaskRCNNLoss(FasterRCNNLoss):
    """GluonCV's Mask R-CNN training loss: the four box terms and the mask term.

    ``attribute_weight`` > 0 (a network from ``attribute_head``): plus that weight times the
    binary cross-entropy summed over the attributes, averaged over the positive RoIs, against
    the attributes of the ground truth each RoI was matched to (label columns 5 onwards, one per
    attribute). Summed, not averaged: averaged over 92 attributes, of which a garment has one or
    two, the head had not learned even each category's frequent attributes after 640
    iterations of the learning recipe (every probability under 0.35)."""

    PARTS = (*FasterRCNNLoss.PARTS, "mask")

    def __init__(self, rpn_smoothl1_rho: float = 1.0 / 9, rcnn_smoothl1_rho: float = 1.0,
                 attribute_weight: float = 0.0):  # fmt: skip
        super().__init__(rpn_smoothl1_rho, rcnn_smoothl1_rho)
        self.mask = mx.gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)
        self.attribute_weight = attribute_weight
        if attribute_weight:
            self.PARTS = (*MaskRCNNLoss.PARTS, "attributes")

    def __call__(self, net, data, label, gt_mask, rpn_cls_t, rpn_box_t, rpn_box_m):
        nd = mx.nd
        gt_box, gt_label = label[:, :, :4], label[:, :, 4:5]
        outputs = net(data, gt_box, gt_label)
        (cls_pred, box_pred, mask_pred, roi, _samples, matches, rpn_score, rpn_box, _anchors,
         cls_t, box_t, box_m, indices) = outputs[:13]  # fmt: skip
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
        if self.attribute_weight:
            parts.append(self.attribute_term(outputs[13], outputs[14], label, matches, m_cls))
        return sum(parts), tuple(parts)

    def attribute_term(self, logits, prior, label, matches, m_cls):
        """Binary cross-entropy summed over attributes, mean over the positive RoIs, weighted;
        each row's logits plus the ``prior`` row of its matched ground truth's class."""
        nd = mx.nd
        classes = (m_cls - 1).detach()  # 0 is the background
        logits = add_class_prior(nd, logits, prior, classes, prior.shape[0])
        wanted = label[:, :, 5:]
        if wanted.shape[2] != logits.shape[1]:
            raise ValueError(f"labels carry {wanted.shape[2]} attributes, the head predicts "
                             f"{logits.shape[1]}")  # fmt: skip
        targets = nd.concat(*[nd.take(wanted[i], matches[i].clip(0, wanted.shape[1] - 1))
                              for i in range(matches.shape[0])], dim=0)  # fmt: skip
        positive = (m_cls.reshape((-1, 1)) > 0).astype(logits.dtype)
        targets = targets.clip(0, 1)  # padded rows carry -1
        per_row = self.mask(logits, targets, positive.broadcast_like(logits)) * logits.shape[1]
        return self.attribute_weight * per_row.sum() / nd.maximum(positive.sum(), 1)
