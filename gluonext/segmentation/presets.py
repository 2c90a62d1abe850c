"""The segmentation recipe's transforms (numpy + OpenCV), each drawing from an explicit
RandomState.

They follow GluonCV's ``SegmentationDataset`` recipe (random flip, random scale of the
long side in [0.5, 2.0] x base size, pad, random crop, Gaussian blur), with one fix:
padding of the mask is the ignore label, not class 0.
"""

from __future__ import annotations

import cv2
import numpy as np

IGNORE_LABEL = -1


def _warp(src, inverse, size, interpolation, fill):
    return cv2.warpAffine(
        src,
        inverse,
        size,
        flags=cv2.WARP_INVERSE_MAP | interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )


def seg_train_transform(
    image,
    mask,
    rng: np.random.RandomState,
    base_size: int,
    crop_size: int,
    scale_range: tuple[float, float] = (0.5, 2.0),
):
    """GluonCV's training augmentation for segmentation, with ignore-label padding.

    Random flip, long side resized to a random size in ``scale_range`` (GluonCV: [0.5, 2.0])
    x ``base_size``, padding
    to ``crop_size`` (image 0, mask ignore), random crop and, half the time, a Gaussian blur
    of random sigma < 1: the same draws as GluonCV's ``_sync_transform``. Flip, resize, pad
    and crop are done as one affine warp that only computes the crop.
    """
    flip = rng.rand() < 0.5
    low, high = scale_range
    long_size = rng.randint(int(base_size * low), int(base_size * high) + 1)
    h, w = image.shape[:2]
    if h > w:
        oh, ow = long_size, int(w * long_size / h + 0.5)
    else:
        ow, oh = long_size, int(h * long_size / w + 0.5)
    x0 = rng.randint(0, max(ow, crop_size) - crop_size + 1)
    y0 = rng.randint(0, max(oh, crop_size) - crop_size + 1)
    sx, sy = w / ow, h / oh  # source pixels per resized pixel
    if flip:  # output column u shows resized column ow - 1 - (u + x0)
        row_x = [-sx, 0.0, (ow - 1 - x0 + 0.5) * sx - 0.5]
    else:
        row_x = [sx, 0.0, (x0 + 0.5) * sx - 0.5]
    inverse = np.array([row_x, [0.0, sy, (y0 + 0.5) * sy - 0.5]], dtype=np.float64)
    size = (crop_size, crop_size)
    out_image = _warp(image, inverse, size, cv2.INTER_LINEAR, (0, 0, 0))
    labels = mask.astype(np.uint8, copy=False)  # -1 (ignore) becomes 255
    out_mask = _warp(labels, inverse, size, cv2.INTER_NEAREST, 255)
    # pixels of the padded area: outside the resized picture
    valid_w, valid_h = min(crop_size, ow - x0), min(crop_size, oh - y0)
    out_image[valid_h:], out_image[:, valid_w:] = 0, 0
    out_mask[valid_h:], out_mask[:, valid_w:] = 255, 255
    out_mask = out_mask.astype(np.int32)
    out_mask[out_mask == 255] = IGNORE_LABEL
    if rng.rand() < 0.5:
        sigma = rng.rand()
        if sigma > 0.05:
            out_image = cv2.GaussianBlur(out_image, (0, 0), sigma)
    return out_image, out_mask


def seg_val_transform(image, mask, crop_size: int):
    """GluonCV's validation transform: short side to ``crop_size``, centre crop."""
    h, w = image.shape[:2]
    if w > h:
        oh, ow = crop_size, int(w * crop_size / h)
    else:
        ow, oh = crop_size, int(h * crop_size / w)
    image = cv2.resize(image, (ow, oh), interpolation=cv2.INTER_LINEAR)
    mask = cv2.resize(mask, (ow, oh), interpolation=cv2.INTER_NEAREST)
    y0, x0 = int(round((oh - crop_size) / 2)), int(round((ow - crop_size) / 2))
    return (
        np.ascontiguousarray(image[y0 : y0 + crop_size, x0 : x0 + crop_size]),
        np.ascontiguousarray(mask[y0 : y0 + crop_size, x0 : x0 + crop_size]),
    )
