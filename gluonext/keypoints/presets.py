"""GluonCV's SimplePose transforms on the whole image as the box, with vectorised targets.

Same geometry as ``SimplePoseDefaultTrainTransform`` (box to centre / scale with GluonCV's
1.25 margin, random scale, rotation with probability 0.6, flip with left/right swap, one
affine warp) and the same Gaussian heatmaps, computed for all joints at once instead of a
Python loop per joint. Random draws come from the item's own seeded generator.
"""

from __future__ import annotations

import cv2
import numpy as np

from gluonext.common.images import normalize


def affine_transform(center, scale, rotation: float, output_size, inverse: bool = False):
    """GluonCV's ``get_affine_transform`` (centre/scale box to an ``(w, h)`` output)."""
    from gluoncv.data.transforms.pose import get_affine_transform

    return get_affine_transform(
        np.asarray(center, np.float32), np.asarray(scale, np.float32), rotation,
        list(output_size), inv=int(inverse),
    )  # fmt: skip


def image_box(width: int, height: int, aspect_ratio: float, margin: float = 1.25):
    """Centre and scale of the whole image as GluonCV's ``_box_to_center_scale`` gives them."""
    center = np.array([width * 0.5, height * 0.5], np.float32)
    w, h = float(width), float(height)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w, h], np.float32) * margin


def warp_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points[:, :2] @ matrix[:, :2].T + matrix[:, 2]


def gaussian_heatmaps(points, weight, input_size, heatmap_size, sigma: float):
    """GluonCV's ``SimplePoseGaussianTargetGenerator`` for all joints at once: (J, h, w)
    targets and (J, 1, 1) weights (0 where the whole Gaussian window misses the map)."""
    in_w, in_h = input_size
    hm_w, hm_h = heatmap_size
    stride = np.array([in_w / hm_w, in_h / hm_h], np.float32)
    mu = (points[:, :2] / stride + 0.5).astype(np.int64)  # int() truncation, as GluonCV
    radius = sigma * 3
    ul, br = mu - int(radius), mu + int(radius + 1)
    inside = ~((ul[:, 0] >= hm_w) | (ul[:, 1] >= hm_h) | (br[:, 0] < 0) | (br[:, 1] < 0))
    weight = weight.astype(np.float32) * inside
    xs = np.arange(hm_w, dtype=np.float32)[None, None, :]
    ys = np.arange(hm_h, dtype=np.float32)[None, :, None]
    dx = xs - mu[:, 0, None, None]
    dy = ys - mu[:, 1, None, None]
    window = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    target = np.exp(-(dx**2 + dy**2) / (2 * sigma**2)).astype(np.float32)
    target *= window & (weight[:, None, None] > 0.5)
    return target, weight[:, None, None]


class PoseTrainTransform:
    """(image, joints (J, 3), weight (J,), rng) -> (CHW image, heatmaps, heatmap weights)."""

    def __init__(self, joint_pairs, input_size=(256, 192), sigma: float = 2.0,
                 scale_factor: float = 0.25, rotation_factor: float = 30.0,
                 flip: bool = True):  # fmt: skip
        self.pairs, self.sigma, self.flip = list(joint_pairs), sigma, flip
        self.height, self.width = input_size
        self.heatmap = (self.width // 4, self.height // 4)
        self.scale_factor, self.rotation_factor = scale_factor, rotation_factor

    def __call__(self, image, joints, weight, rng):
        height, width = image.shape[:2]
        center, scale = image_box(width, height, self.width / self.height)
        sf, rf = self.scale_factor, self.rotation_factor
        scale = scale * np.clip(rng.randn() * sf + 1, 1 - sf, 1 + sf)
        rotation = np.clip(rng.randn() * rf, -2 * rf, 2 * rf) if rng.rand() <= 0.6 else 0.0
        joints, weight = joints.copy(), weight.copy()
        if self.flip and rng.rand() > 0.5:
            image = image[:, ::-1]
            joints[:, 0] = width - joints[:, 0] - 1
            for a, b in self.pairs:
                joints[[a, b]] = joints[[b, a]]
                weight[[a, b]] = weight[[b, a]]
            center[0] = width - center[0] - 1
        matrix = affine_transform(center, scale, rotation, (self.width, self.height))
        warped = cv2.warpAffine(
            np.ascontiguousarray(image), matrix, (self.width, self.height), flags=cv2.INTER_LINEAR
        )
        points = warp_points(joints, matrix)
        target, target_weight = gaussian_heatmaps(
            points, weight, (self.width, self.height), self.heatmap, self.sigma
        )
        return normalize(warped), target, target_weight


def pose_input(image: np.ndarray, input_size, scale_mult: float = 1.0, flip: bool = False):
    """Validation input of one image (whole image as box, optionally enlarged by
    ``scale_mult`` for multi-scale testing): (CHW float32, centre, scale)."""
    height, width = image.shape[:2]
    in_h, in_w = input_size
    center, scale = image_box(width, height, in_w / in_h)
    scale = scale * scale_mult
    matrix = affine_transform(center, scale, 0.0, (in_w, in_h))
    warped = cv2.warpAffine(
        np.ascontiguousarray(image), matrix, (in_w, in_h), flags=cv2.INTER_LINEAR
    )
    if flip:
        warped = warped[:, ::-1]
    return normalize(np.ascontiguousarray(warped)), center, scale
