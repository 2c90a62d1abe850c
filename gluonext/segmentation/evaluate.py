"""Segmentation inference: class scores at the input's resolution, multi-scale and flipped."""

from __future__ import annotations

import mxnet as mx
import numpy as np

from gluonext.segmentation.metrics import ConfusionMatrix
from gluonext.segmentation.model import SegmentationNet


def forward_logits(net, x: mx.nd.NDArray) -> mx.nd.NDArray:
    """Main-head logits at ``x``'s size for our networks and GluonCV's (via ``predict``)."""
    if not isinstance(net, SegmentationNet) and hasattr(net, "predict"):
        return net.predict(x)
    return net(x)[0]


def predict_logits(net, x: mx.nd.NDArray, scales=(1.0,), flip: bool = False) -> mx.nd.NDArray:
    """Sum of softmax scores over ``scales`` (and horizontal flips), at ``x``'s size."""
    height, width = x.shape[2:]
    total = None
    for scale in scales:
        xs = x
        if scale != 1.0:
            xs = mx.nd.contrib.BilinearResize2D(
                x, height=max(8, int(height * scale + 0.5)), width=max(8, int(width * scale + 0.5))
            )
        scores = mx.nd.softmax(forward_logits(net, xs), axis=1)
        if flip:
            flipped = forward_logits(net, mx.nd.flip(xs, axis=3))
            scores = scores + mx.nd.flip(mx.nd.softmax(flipped, axis=1), axis=3)
        if scale != 1.0:
            scores = mx.nd.contrib.BilinearResize2D(scores, height=height, width=width)
        total = scores if total is None else total + scores
    return total


def preview_overlays(net, dataset, ctx, palette, count: int = 3) -> list:
    """(name, overlay) of the first ``count`` validation items' predicted class maps, as
    the validation sees them (whole images, or centre crops), for TensorBoard."""
    from gluonext.common.drawing import overlay
    from gluonext.common.images import denormalize

    pictures = []
    for index in range(min(count, len(dataset))):
        chw, _ = dataset[index]
        logits = predict_logits(net, mx.nd.array(np.asarray(chw)[None], ctx=ctx))
        mask = logits[0].argmax(axis=0).asnumpy().astype("uint8")
        pictures.append((f"image{index}", overlay(denormalize(np.asarray(chw)), mask, palette)))
    return pictures


def score_predictor(predictor, dataset, indices=None) -> ConfusionMatrix:
    """The confusion matrix of ``predictor`` (any backend of ``load_predictor``) over
    ``dataset``'s whole images (or its ``indices``) and labels, as a user of the exported
    model gets them."""
    matrix = ConfusionMatrix(dataset.NUM_CLASS, list(dataset.CLASSES))
    for index in range(len(dataset)) if indices is None else indices:
        image, label = dataset.load(index)
        matrix.update(label[None], predictor(image).class_map[None])
    return matrix
