"""Heatmaps to keypoints, following GluonCV's recipe: argmax of each heatmap moved a quarter
pixel towards the higher neighbour, mapped back through the inverse crop; ``flip_test``
averages with the heatmaps of the mirrored image (pairs swapped, shifted one pixel as
GluonCV does); several ``scales`` average the decoded coordinates.
"""

from __future__ import annotations

import mxnet as mx
import numpy as np

from gluonext.keypoints.presets import affine_transform, pose_input


def max_positions(heatmaps: np.ndarray):
    """(N, J, 2) argmax x, y of each heatmap with GluonCV's quarter-pixel refinement, and
    (N, J) peak values."""
    n, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, j, -1)
    index = flat.argmax(axis=2)
    peak = flat.max(axis=2)
    x, y = (index % w).astype(np.float32), (index // w).astype(np.float32)
    xi, yi = x.astype(int), y.astype(int)
    inner = (xi > 0) & (xi < w - 1) & (yi > 0) & (yi < h - 1)
    xr, xl = np.clip(xi + 1, 0, w - 1), np.clip(xi - 1, 0, w - 1)
    yd, yu = np.clip(yi + 1, 0, h - 1), np.clip(yi - 1, 0, h - 1)
    rows = np.arange(n)[:, None]
    cols = np.arange(j)[None, :]
    dx = heatmaps[rows, cols, yi, xr] - heatmaps[rows, cols, yi, xl]
    dy = heatmaps[rows, cols, yd, xi] - heatmaps[rows, cols, yu, xi]
    x += np.where(inner, np.sign(dx) * 0.25, 0)
    y += np.where(inner, np.sign(dy) * 0.25, 0)
    return np.stack([x, y], axis=-1), peak


def to_image(coords: np.ndarray, center, scale, heatmap_size) -> np.ndarray:
    """Heatmap coordinates (J, 2) back to image pixels (GluonCV's ``transform_preds``)."""
    inverse = affine_transform(center, scale, 0.0, heatmap_size, inverse=True)
    return coords @ inverse[:, :2].T + inverse[:, 2]


def flip_back(heatmaps: np.ndarray, pairs) -> np.ndarray:
    """Heatmaps of a mirrored input, mirrored back with left/right swapped and shifted one
    pixel right (GluonCV's ``flip_heatmap(..., shift=True)``)."""
    out = heatmaps[..., ::-1].copy()
    for a, b in pairs:
        out[:, [a, b]] = out[:, [b, a]]
    out[..., 1:] = out[..., :-1].copy()
    return out


def pose_batch(image: np.ndarray, input_size, scale_mult: float = 1.0, flip_test=False):
    """(1 or 2 x 3 x H x W input, centre, scale): the image, and its mirror with
    ``flip_test``."""
    x, center, scale = pose_input(image, input_size, scale_mult)
    batch = [x, np.ascontiguousarray(x[:, :, ::-1])] if flip_test else [x]
    return np.stack(batch), center, scale


def keypoints_from(forward, image: np.ndarray, input_size, pairs, flip_test=False,
                   scales=(1.0,)):  # fmt: skip
    """(J, 2) keypoints in image pixels and (J,) confidences for one RGB image; ``forward``
    maps an N x 3 x H x W float32 batch to N x J x h x w heatmaps (NumPy)."""
    coords, peaks = [], []
    for scale_mult in scales:
        batch, center, scale = pose_batch(image, input_size, scale_mult, flip_test)
        out = forward(batch)
        heatmaps = out[:1]
        if flip_test:
            heatmaps = (heatmaps + flip_back(out[1:], pairs)) / 2
        found, peak = max_positions(heatmaps)
        size = (heatmaps.shape[3], heatmaps.shape[2])
        coords.append(to_image(found[0], center, scale, size))
        peaks.append(peak[0])
    return np.mean(coords, axis=0), np.mean(peaks, axis=0)


def predict_keypoints(net, image: np.ndarray, input_size, ctx, pairs, flip_test=False,
                      scales=(1.0,)):  # fmt: skip
    """``keypoints_from`` with a Gluon network on ``ctx``."""

    def forward(batch):
        return net(mx.nd.array(batch, ctx=ctx)).asnumpy()

    return keypoints_from(forward, image, input_size, pairs, flip_test, scales)
