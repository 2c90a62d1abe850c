"""R-CNN transforms: GluonCV's Mask R-CNN recipe on RLE masks, all instances at once.

GluonCV's ``MaskRCNNDefaultTrainTransform`` resizes and flips polygons one instance at a time
and rasterises each with pycocotools. Here the masks of an image are decoded in one
pycocotools call, resized in one OpenCV call (channels = instances) and flipped together with
the image and boxes. RPN targets follow GluonCV's generator exactly (same anchors, rules and
random draws, seeded per item) but are computed only where they can be non-zero.
"""

from __future__ import annotations

import copy

import cv2
import mxnet as mx
import numpy as np

from gluonext.common.images import normalize
from gluonext.formats.coco import decode_masks, to_rles  # noqa: F401 - to_rles re-exported

_CV_MAX_CHANNELS = 512


def resized_size(width: int, height: int, short: int, max_size: int) -> tuple[int, int]:
    """GluonCV's ``resize_short_within``: short side to ``short``, long side at most
    ``max_size``; returns (new width, new height)."""
    small, large = min(width, height), max(width, height)
    scale = short / small
    if round(scale * large) > max_size:
        scale = max_size / large
    return int(round(width * scale)), int(round(height * scale))


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize H x W x N masks to ``size`` (width, height) together: nearest pixel, centre
    aligned like the image's bilinear resize, so thin parts survive upscaling."""
    count = masks.shape[2]
    if count == 0:
        return np.zeros((size[1], size[0], 0), dtype=np.uint8)
    parts = [
        cv2.resize(
            masks[:, :, i : i + _CV_MAX_CHANNELS], size, interpolation=cv2.INTER_NEAREST_EXACT
        )
        for i in range(0, count, _CV_MAX_CHANNELS)
    ]
    parts = [p[:, :, None] if p.ndim == 2 else p for p in parts]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)


def scale_boxes(label: np.ndarray, sx: float, sy: float) -> np.ndarray:
    out = label.astype(np.float32, copy=True)
    out[:, (0, 2)] *= sx
    out[:, (1, 3)] *= sy
    return out


def flip_boxes(label: np.ndarray, width: int) -> np.ndarray:
    out = label.copy()
    out[:, 0], out[:, 2] = width - label[:, 2], width - label[:, 0]
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of corner boxes, float32: MXNet's ``box_iou`` (GluonCV's, and threaded)."""
    return mx.nd.contrib.box_iou(mx.nd.array(a), mx.nd.array(b), format="corner").asnumpy()


def rpn_targets(
    anchors: np.ndarray,
    boxes: np.ndarray,
    width: int,
    height: int,
    num_sample: int = 256,
    pos_iou: float = 0.7,
    neg_iou: float = 0.3,
    pos_ratio: float = 0.5,
):
    """GluonCV's RPN targets (``RPNTargetGenerator``, same rules, same random draws from numpy's
    global generator) computed only where they can be non-trivial: IoUs for the anchors inside
    the image, box targets for the sampled positives. Returns (cls_target (N,), box_target
    (N, 4), box_mask (N, 4)) as float32: cls 1 positive, 0 negative, -1 ignored.
    """
    count = len(anchors)
    inside = np.flatnonzero(
        (anchors[:, 0] >= 0)
        & (anchors[:, 1] >= 0)
        & (anchors[:, 2] < width)
        & (anchors[:, 3] < height)
    )
    samples = np.zeros(count, np.float32)
    if len(boxes) and len(inside):
        ious = box_iou(anchors[inside], boxes)
    else:  # no boxes, or an image smaller than every anchor
        ious = np.zeros((len(inside), len(boxes)), np.float32)
    best = ious.max(axis=1) if ious.shape[1] else np.full(len(inside), -1.0, np.float32)
    if len(inside) and ious.shape[1]:
        # an anchor that is some box's best match is positive (GluonCV's tie rule) ...
        per_box = np.maximum(ious.max(axis=0, keepdims=True), -1.0)
        eps = np.spacing(np.float32(1.0))
        chosen = ((ious + eps) > per_box).any(axis=1)
        local = np.where(chosen, 1.0, 0.0)
        # ... as is any with IoU >= pos_iou, while IoU < neg_iou makes it negative (last word)
        local = np.where(best >= pos_iou, 1.0, local)
        local = np.where((best < neg_iou) & (best >= 0), -1.0, local)
        samples[inside] = local
    max_pos = int(round(num_sample * pos_ratio))
    num_pos = int((samples > 0).sum())
    if num_pos > max_pos:
        drop = np.random.choice(np.where(samples > 0)[0], size=num_pos - max_pos, replace=False)
        samples[drop] = 0
    num_neg = int((samples < 0).sum())
    max_neg = num_sample - min(num_pos, max_pos)
    if num_neg > max_neg:
        drop = np.random.choice(np.where(samples < 0)[0], size=num_neg - max_neg, replace=False)
        samples[drop] = 0
    cls_target = np.where(samples == 0, -1.0, (samples + 1) / 2).astype(np.float32)
    box_target = np.zeros((count, 4), np.float32)
    box_mask = np.zeros((count, 4), np.float32)
    positive = np.flatnonzero(samples > 0)
    if positive.size:
        row = np.searchsorted(inside, positive)  # positives are always inside anchors
        match = ious[row].argmax(axis=1)
        a, g = anchors[positive], boxes[match]
        aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
        box_target[positive, 0] = ((g[:, 0] + gw * 0.5) - (a[:, 0] + aw * 0.5)) / aw
        box_target[positive, 1] = ((g[:, 1] + gh * 0.5) - (a[:, 1] + ah * 0.5)) / ah
        box_target[positive, 2] = np.log(gw / aw)
        box_target[positive, 3] = np.log(gh / ah)
        box_mask[positive] = 1.0
    return cls_target, box_target, box_mask


class RPNTargets:
    """RPN training targets for an image size, from the network's own anchors (GluonCV's
    anchors and rules; see ``rpn_targets``)."""

    def __init__(self, net, ashape: int, multi_stage: bool):
        generator = copy.deepcopy(net.rpn.anchor_generator)
        generator.collect_params().reset_ctx(None)
        if multi_stage:
            self.anchors, side = [], ashape
            for level in generator:
                data = mx.nd.zeros((1, 3, side, side))
                self.anchors.append(level(data).reshape((side, side, -1)).asnumpy())
                side = max(side // 2, 16)
        else:
            data = mx.nd.zeros((1, 3, ashape, ashape))
            self.anchors = [generator(data).reshape((ashape, ashape, -1)).asnumpy()]
        features = net.features(mx.sym.var(name="data"))
        self.features = features if isinstance(features, (list, tuple)) else [features]
        self._level_shapes: dict[tuple[int, int], list] = {}

    def _shapes(self, height: int, width: int) -> list[tuple[int, int]]:
        key = (height, width)
        if key not in self._level_shapes:
            self._level_shapes[key] = [
                tuple(sym.infer_shape(data=(1, 3, height, width))[1][0][2:4])
                for sym in self.features[: len(self.anchors)]
            ]
        return self._level_shapes[key]

    def __call__(self, boxes: np.ndarray, width: int, height: int, seed: int):
        """(cls_targets, box_targets, box_masks): lists with one array per feature level."""
        levels = [
            anchor[:fh, :fw, :]
            for anchor, (fh, fw) in zip(self.anchors, self._shapes(height, width), strict=True)
        ]
        flat = np.concatenate([a.reshape(-1, 4) for a in levels])
        state = np.random.get_state()  # GluonCV's sampler draws from numpy's global generator
        np.random.seed(seed)
        try:
            targets = rpn_targets(flat, boxes[:, :4].astype(np.float32), width, height)
        finally:
            np.random.set_state(state)
        outputs, start = ([], [], []), 0
        for anchor in levels:
            fh, fw = anchor.shape[:2]
            stop = start + anchor.size // 4
            for out, target in zip(outputs, targets, strict=True):
                out.append(target[start:stop].reshape((fh, fw, -1)))
            start = stop
        return outputs


class MaskRCNNTrainTransform:
    """Resize (short side, random within a range if given), flip, normalise; masks and boxes
    follow the image; RPN targets as GluonCV computes them. Call with ``(image, label,
    segmentations, rng)``; returns GluonCV's six training arrays."""

    def __init__(self, net, short, max_size: int, flip: bool = True, multi_stage: bool = False):
        self.short = tuple(short) if isinstance(short, (tuple, list)) else (short, short)
        self.max_size, self.flip = max_size, flip
        self.rpn_targets = RPNTargets(net, net.ashape, multi_stage) if net is not None else None

    def geometry(self, image, label, segmentations, rng):
        """Resized and maybe flipped (image, (N, 5) label, H x W x N masks)."""
        height, width = image.shape[:2]
        short = int(rng.randint(self.short[0], self.short[1] + 1))
        new_w, new_h = resized_size(width, height, short, self.max_size)
        masks = resize_masks(decode_masks(segmentations, height, width), (new_w, new_h))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        label = scale_boxes(label, new_w / width, new_h / height)
        if self.flip and rng.rand() < 0.5:
            image, masks = cv2.flip(image, 1), masks[:, ::-1]
            label = flip_boxes(label, new_w)
        return image, label, masks

    def __call__(self, image, label, segmentations, rng):
        image, label, masks = self.geometry(image, label, segmentations, rng)
        height, width = image.shape[:2]
        tensor = mx.nd.array(normalize(image))
        planes = np.ascontiguousarray(masks.transpose(2, 0, 1))  # uint8: a quarter of the copy
        gt_masks = mx.nd.array(planes, dtype=np.uint8).astype(np.float32)
        if self.rpn_targets is None:
            return tensor, mx.nd.array(label), gt_masks
        seed = int(rng.randint(2**31 - 1))
        cls_t, box_t, box_m = self.rpn_targets(label, width, height, seed)
        return tensor, mx.nd.array(label), cls_t, box_t, box_m, gt_masks


class MaskRCNNValTransform:
    """Short side to ``short`` within ``max_size``, normalise; returns (image, [h, w, scale])."""

    def __init__(self, short: int, max_size: int):
        self.short, self.max_size = short, max_size

    def __call__(self, image, label=None, segmentations=None, rng=None):
        height, width = image.shape[:2]
        new_w, new_h = resized_size(width, height, self.short, self.max_size)
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        info = np.array([new_h, new_w, new_h / height], dtype=np.float32)
        return mx.nd.array(normalize(resized)), mx.nd.array(info)


class FasterRCNNTrainTransform(MaskRCNNTrainTransform):
    """GluonCV's Faster R-CNN training transform (short side, max size, flip, normalise, RPN
    targets) for box items: ``(image, label, rng)`` to ``(image, label, rpn cls targets, rpn
    box targets, rpn box masks)``, the inputs of GluonCV's ``FasterRCNNTrainBatchify``."""

    def __call__(self, image, label, rng):
        image, label, _ = self.geometry(image, label, [], rng)
        height, width = image.shape[:2]
        seed = int(rng.randint(2**31 - 1))
        cls_t, box_t, box_m = self.rpn_targets(label, width, height, seed)
        return mx.nd.array(normalize(image)), mx.nd.array(label), cls_t, box_t, box_m
