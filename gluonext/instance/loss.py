"""GluonCV's Mask R-CNN training loss: the four box terms and the mask term."""

from __future__ import annotations

import mxnet as mx

from gluonext.rcnn.loss import FasterRCNNLoss


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
