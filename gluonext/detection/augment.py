"""GluonCV's SSD / YOLOv3 training augmentation in NumPy and OpenCV.

The steps and distributions of ``SSDDefaultTrainTransform`` and
``YOLO3DefaultTrainTransform``: colour distortion (brightness, then contrast / saturation /
hue in one of GluonCV's two orders, each with probability 1/2), zoom out onto a canvas of the
mean colour (probability 1/2, up to 4x), a crop under GluonCV's IoU constraints, a resize with
a random interpolation (nearest, linear, cubic, area, Lanczos), a horizontal flip, ImageNet
normalisation, then GluonCV's own target generators. What differs is how: GluonCV's colour
steps are each an affine map of the pixel, so the four are composed into one 3 x 3 matrix
and offset applied once; the crop's 50 trials per constraint are drawn and scored together;
the zoomed-out canvas is never drawn (the crop is mapped from the image straight onto the
output); the image never goes through NDArrays until the end. Every draw comes from the item's own
generator (``rng``), so augmentation repeats exactly for a seed.
"""

from __future__ import annotations

import cv2
import mxnet as mx
import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
GRAY = np.array([0.299, 0.587, 0.114])
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
_RGB = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])
CONSTRAINTS = ((0.1, None), (0.3, None), (0.5, None), (0.7, None), (0.9, None), (None, 1))


def brightness_step(delta: float):
    return np.eye(3), np.full(3, delta)


def contrast_step(alpha: float):
    return np.eye(3) * alpha, np.zeros(3)


def saturation_step(alpha: float):
    """``alpha * p + (1 - alpha) * gray(p)`` as a matrix on row-vector pixels."""
    return alpha * np.eye(3) + (1 - alpha) * np.outer(GRAY, np.ones(3)), np.zeros(3)


def hue_step(alpha: float):
    """GluonCV's hue rotation in YIQ space (``alpha`` in units of pi)."""
    u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
    rotate = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
    return (_RGB @ rotate @ _YIQ).T, np.zeros(3)


def compose(steps):
    """One (matrix, offset) for affine pixel maps applied in order: ``p @ M + b``."""
    matrix, offset = np.eye(3), np.zeros(3)
    for step_matrix, step_offset in steps:
        matrix, offset = matrix @ step_matrix, offset @ step_matrix + step_offset
    return matrix, offset


def color_distortion(rng, brightness=32, contrast=(0.5, 1.5), saturation=(0.5, 1.5), hue=18):
    """GluonCV's ``random_color_distort`` as one affine pixel map (matrix, offset)."""
    steps = []
    if rng.uniform() > 0.5:
        steps.append(brightness_step(rng.uniform(-brightness, brightness)))

    def maybe(make, low, high):
        if rng.uniform() > 0.5:
            steps.append(make(rng.uniform(low, high)))

    if rng.randint(2):
        maybe(contrast_step, *contrast)
        maybe(saturation_step, *saturation)
        maybe(hue_step, -hue, hue)
    else:
        maybe(saturation_step, *saturation)
        maybe(hue_step, -hue, hue)
        maybe(contrast_step, *contrast)
    return compose(steps)


def _iou(crops: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(T, N) IoU of T crops with N boxes, corners, no +1 (GluonCV's ``bbox_iou``)."""
    tl = np.maximum(crops[:, None, :2], boxes[None, :, :2])
    br = np.minimum(crops[:, None, 2:], boxes[None, :, 2:4])
    inter = np.prod(br - tl, axis=2) * (tl < br).all(axis=2)
    area_c = np.prod(crops[:, 2:] - crops[:, :2], axis=1)
    area_b = np.prod(boxes[:, 2:4] - boxes[:, :2], axis=1)
    return inter / (area_c[:, None] + area_b[None, :] - inter)


def crop_boxes(boxes: np.ndarray, crop) -> np.ndarray:
    """Boxes whose centre lies in ``crop`` (left, top, width, height), clipped to it and moved
    into its frame (GluonCV's ``bbox.crop`` without outside centres)."""
    left, top, width, height = crop
    centers = (boxes[:, :2] + boxes[:, 2:4]) / 2
    corner = np.array([left, top], np.float32)
    inside = ((corner <= centers) & (centers < corner + [width, height])).all(axis=1)
    out = boxes.copy()
    out[:, :2] = np.maximum(out[:, :2], corner) - corner
    out[:, 2:4] = np.minimum(out[:, 2:4], corner + [width, height]) - corner
    keep = inside & (out[:, :2] < out[:, 2:4]).all(axis=1)
    return out[keep]


def constrained_crop(boxes: np.ndarray, size, rng, min_scale=0.3, max_aspect=2.0, trials=50):
    """GluonCV's ``random_crop_with_constraints``: for each IoU constraint, the first of
    ``trials`` random crops that meets it; one of those (or the whole image) is taken, the
    first whose crop keeps a box. Returns (boxes in the crop, (left, top, width, height))."""
    w, h = size
    candidates = [(0, 0, w, h)]
    for min_iou, max_iou in CONSTRAINTS:
        low = -np.inf if min_iou is None else min_iou
        high = np.inf if max_iou is None else max_iou
        scale = rng.uniform(min_scale, 1.0, trials)
        aspect = rng.uniform(np.maximum(1 / max_aspect, scale**2),
                             np.minimum(max_aspect, 1 / scale**2))  # fmt: skip
        crop_h = (h * scale / np.sqrt(aspect)).astype(int)
        crop_w = (w * scale * np.sqrt(aspect)).astype(int)
        top = (rng.uniform(size=trials) * np.maximum(h - crop_h, 1)).astype(int)
        left = (rng.uniform(size=trials) * np.maximum(w - crop_w, 1)).astype(int)
        crops = np.stack([left, top, left + crop_w, top + crop_h], axis=1).astype(np.float64)
        if not len(boxes):
            return boxes, (int(left[0]), int(top[0]), int(crop_w[0]), int(crop_h[0]))
        iou = _iou(crops, boxes.astype(np.float64))
        meets = np.flatnonzero((iou.min(axis=1) >= low) & (iou.max(axis=1) <= high))
        if len(meets):
            k = meets[0]
            candidates.append((int(left[k]), int(top[k]), int(crop_w[k]), int(crop_h[k])))
    while candidates:
        crop = candidates.pop(rng.randint(len(candidates)))
        kept = crop_boxes(boxes, crop)
        if len(kept):
            return kept, crop
    return boxes, (0, 0, w, h)


def _zoom_crop_resize(image, top_left, crop, size, interpolation):
    """The image placed at ``top_left`` on an endless canvas of the mean colour, the
    ``crop`` (left, top, width, height) of that canvas resized to ``size`` with
    ``interpolation``: (H x W x 3 uint8 pixels, H x W coverage in 0..1 of the image's own
    pixels). The canvas is never drawn: OpenCV maps the crop onto the output directly (for
    INTER_AREA, which only ``resize`` has, the crop alone is drawn)."""
    (ox, oy), (left, top, crop_w, crop_h), (width, height) = top_left, crop, size
    h, w = image.shape[:2]
    rgba = np.dstack([image, np.full((h, w), 255, np.uint8)])
    fill = tuple(int(v) for v in np.round(MEAN * 255)) + (0,)
    if interpolation == cv2.INTER_AREA:
        region = np.empty((crop_h, crop_w, 4), np.uint8)
        region[:] = fill
        x0, y0 = max(left, ox), max(top, oy)
        x1, y1 = min(left + crop_w, ox + w), min(top + crop_h, oy + h)
        if x1 > x0 and y1 > y0:
            inside = rgba[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            region[y0 - top : y1 - top, x0 - left : x1 - left] = inside
        out = cv2.resize(region, (width, height), interpolation=interpolation)
    else:
        sx, sy = width / crop_w, height / crop_h
        # resize's pixel-centre mapping: dst + 0.5 = (src + 0.5) * scale, src in canvas units
        matrix = np.array([[sx, 0, (ox - left + 0.5) * sx - 0.5],
                           [0, sy, (oy - top + 0.5) * sy - 0.5]], np.float64)  # fmt: skip
        out = cv2.warpAffine(rgba, matrix, (width, height), flags=interpolation,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=fill)  # fmt: skip
    return out[:, :, :3], out[:, :, 3].astype(np.float32) / 255.0


def augment(image: np.ndarray, label: np.ndarray, width: int, height: int, rng, color=True):
    """GluonCV's SSD / YOLOv3 training augmentation of an RGB uint8 image and its (N, 5+)
    label rows: (3 x height x width normalised float32 image, transformed label rows).

    The colour map is drawn first, as GluonCV draws it, but applied to the output pixels:
    being affine it commutes with the (linear) resampling, and the zoom-out's fill, which
    GluonCV leaves undistorted, is put back where the image does not cover the output."""
    matrix, offset = color_distortion(rng) if color else (np.eye(3), np.zeros(3))
    boxes = label.astype(np.float32)
    h, w = image.shape[:2]
    top_left, size = (0, 0), (w, h)
    if rng.uniform() > 0.5:
        ratio = rng.uniform(1, 4.0)
        oh, ow = int(h * ratio), int(w * ratio)
        top_left = (rng.randint(0, ow - w + 1), rng.randint(0, oh - h + 1))
        size = (ow, oh)
        boxes = boxes.copy()
        boxes[:, (0, 2)] += top_left[0]
        boxes[:, (1, 3)] += top_left[1]
    boxes, crop = constrained_crop(boxes, size, rng)
    interpolation = int(rng.randint(5))  # OpenCV's codes 0-4, as GluonCV's imresize
    pixels, coverage = _zoom_crop_resize(image, top_left, crop, (width, height), interpolation)
    boxes = boxes.copy()
    boxes[:, (0, 2)] *= width / crop[2]
    boxes[:, (1, 3)] *= height / crop[3]
    if rng.uniform() < 0.5:
        pixels, coverage = pixels[:, ::-1], coverage[:, ::-1]
        boxes[:, (0, 2)] = width - boxes[:, (2, 0)]
    affine = np.hstack([matrix.T, offset[:, None]]).astype(np.float32)
    out = cv2.transform(np.ascontiguousarray(pixels).astype(np.float32), affine)
    fill = np.round(MEAN * 255)
    # where the fill shows: GluonCV's undistorted mean colour, not the distorted rounded fill
    out += (1 - coverage)[:, :, None] * (MEAN * 255 - (fill @ matrix + offset)).astype(np.float32)
    tensor = ((out / 255.0 - MEAN) / STD).astype(np.float32).transpose(2, 0, 1)
    return np.ascontiguousarray(tensor), boxes


class SSDTrainTransform:
    """``augment`` then GluonCV's SSD targets for ``anchors`` (as SSDDefaultTrainTransform)."""

    def __init__(self, width: int, height: int, anchors):
        from gluoncv.model_zoo.ssd.target import SSDTargetGenerator

        self.width, self.height, self.anchors = width, height, anchors
        self.targets = SSDTargetGenerator(
            iou_thresh=0.5, stds=(0.1, 0.1, 0.2, 0.2), negative_mining_ratio=-1
        )

    def __call__(self, image, label, rng):
        tensor, boxes = augment(image, label, self.width, self.height, rng)
        cls_t, box_t, _ = self.targets(
            self.anchors, None, mx.nd.array(boxes[None, :, :4]), mx.nd.array(boxes[None, :, 4:5])
        )
        return mx.nd.array(tensor), cls_t[0], box_t[0]


class YOLO3TrainTransform:
    """``augment`` then GluonCV's YOLOv3 targets for ``net`` at this size (as
    YOLO3DefaultTrainTransform; label rows carry a mix ratio last with ``mixup``)."""

    def __init__(self, width: int, height: int, net, mixup: bool = False):
        from gluoncv.model_zoo.yolo.yolo_target import YOLOV3PrefetchTargetGenerator

        self.width, self.height, self.mixup = width, height, mixup
        self.fake_x = mx.nd.zeros((1, 3, height, width))
        contexts = list(net.collect_params().values())[0].list_ctx()
        net.collect_params().reset_ctx(mx.cpu())
        with mx.autograd.train_mode():
            _, self.anchors, self.offsets, self.feat_maps, *_ = net(self.fake_x)
        net.collect_params().reset_ctx(contexts)
        self.targets = YOLOV3PrefetchTargetGenerator(num_class=len(net.classes))

    def __call__(self, image, label, rng):
        tensor, boxes = augment(image, label, self.width, self.height, rng)
        gt_boxes = mx.nd.array(boxes[None, :, :4])
        gt_ids = mx.nd.array(boxes[None, :, 4:5])
        mix = mx.nd.array(boxes[None, :, -1:]) if self.mixup else None
        objectness, centers, scales, weights, classes = self.targets(
            self.fake_x, self.feat_maps, self.anchors, self.offsets, gt_boxes, gt_ids, mix
        )
        return (mx.nd.array(tensor), objectness[0], centers[0], scales[0], weights[0],
                classes[0], gt_boxes[0])  # fmt: skip
