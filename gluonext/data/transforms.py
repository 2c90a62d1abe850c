"""Image and mask transforms (numpy + OpenCV), each drawing from an explicit RandomState.

The segmentation transforms follow GluonCV's ``SegmentationDataset`` recipe (random flip,
random scale of the long side in [0.5, 2.0] x base size, pad, random crop, Gaussian blur),
with one fix: padding of the mask is the ignore label, not class 0.
"""

from __future__ import annotations

import cv2
import numpy as np

IGNORE_LABEL = -1
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255


def read_rgb(path) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 RGB, in stored pixel order (EXIF not applied, as in
    the annotations' frame). Raises OSError naming the file when it cannot be decoded."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = (
        cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    )
    if image is None:
        raise OSError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def normalize(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 RGB to C x H x W float32 with ImageNet mean and std (GluonCV's input)."""
    out = (image.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def denormalize(chw: np.ndarray) -> np.ndarray:
    return np.clip(chw.transpose(1, 2, 0) * STD + MEAN, 0, 255).astype(np.uint8)


def resize_long_side(image, mask, long_size):
    h, w = image.shape[:2]
    if h > w:
        oh, ow = long_size, int(w * long_size / h + 0.5)
    else:
        ow, oh = long_size, int(h * long_size / w + 0.5)
    image = cv2.resize(image, (ow, oh), interpolation=cv2.INTER_LINEAR)
    if mask is not None:
        mask = cv2.resize(mask, (ow, oh), interpolation=cv2.INTER_NEAREST)
    return image, mask


def seg_train_transform(image, mask, rng: np.random.RandomState, base_size: int, crop_size: int):
    """GluonCV's training augmentation for segmentation, with ignore-label padding."""
    if rng.rand() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    long_size = rng.randint(int(base_size * 0.5), int(base_size * 2.0) + 1)
    image, mask = resize_long_side(
        np.ascontiguousarray(image), np.ascontiguousarray(mask), long_size
    )
    h, w = image.shape[:2]
    pad_h, pad_w = max(crop_size - h, 0), max(crop_size - w, 0)
    if pad_h or pad_w:
        image = cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
        mask = cv2.copyMakeBorder(mask, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=IGNORE_LABEL)
        h, w = image.shape[:2]
    y0 = rng.randint(0, h - crop_size + 1)
    x0 = rng.randint(0, w - crop_size + 1)
    image = image[y0 : y0 + crop_size, x0 : x0 + crop_size]
    mask = mask[y0 : y0 + crop_size, x0 : x0 + crop_size]
    if rng.rand() < 0.5:
        sigma = rng.rand()
        if sigma > 0.05:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


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
