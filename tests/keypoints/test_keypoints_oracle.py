"""The decoding path, checked with a network that knows the answer: ground-truth heatmaps made
the way the training targets are, decoded through argmax, quarter-pixel shift, inverse affine
and flip-back, must land on the ground truth (NE near 0). A model at chance is then the
model's doing, not the decoding's."""

import mxnet as mx
import numpy as np
import pytest

from gluonext.formats.fashionai import read_keypoint_csv
from gluonext.keypoints.data import FashionAIKeypoints
from gluonext.keypoints.decode import predict_keypoints
from gluonext.keypoints.evaluate import to_24
from gluonext.keypoints.metrics import NormalizedError
from gluonext.keypoints.presets import affine_transform, gaussian_heatmaps, pose_input, warp_points
from gluonext.sample.writers import write_fashionai

INPUT, HEATMAP = (256, 192), (48, 64)  # (height, width) of the input; (width, height) heatmap


class OracleNet:
    """Answers the validation input of one image (and its mirror) with ground-truth heatmaps."""

    def __init__(self, image, joints, weight, pairs):
        x, center, scale = pose_input(image, INPUT)
        matrix = affine_transform(center, scale, 0.0, (INPUT[1], INPUT[0]))
        points = warp_points(joints, matrix)
        self.plain = x
        self.heatmaps = gaussian_heatmaps(points, weight, (INPUT[1], INPUT[0]), HEATMAP, 2)[0]
        mirrored = points.copy()
        mirrored[:, 0] = INPUT[1] - 1 - mirrored[:, 0]
        swapped = mirrored.copy()
        for a, b in pairs:
            swapped[[a, b]] = mirrored[[b, a]]
        self.flipped = gaussian_heatmaps(swapped, weight, (INPUT[1], INPUT[0]), HEATMAP, 2)[0]

    def __call__(self, batch):
        out = [self.heatmaps if np.array_equal(x, self.plain) else self.flipped
               for x in batch.asnumpy()]  # fmt: skip
        return mx.nd.array(np.stack(out))


@pytest.mark.parametrize("flip", [False, True])
def test_ground_truth_heatmaps_decode_to_the_ground_truth(tmp_path, flip):
    write_fashionai(tmp_path, 10, seed=3, size=(96, 128), progress=False)
    rows, _ = read_keypoint_csv(tmp_path / "Annotations" / "train.csv", tmp_path)
    dataset = FashionAIKeypoints(tmp_path, rows, "all")
    metric, worst = NormalizedError(), 0.0
    for index in range(len(dataset)):
        image, joints, weight = dataset.load(index)
        net = OracleNet(image, joints, weight, dataset.pairs)
        coords, _ = predict_keypoints(net, image, INPUT, mx.cpu(), dataset.pairs, flip)
        row = dataset.rows[index]
        metric.update(row.category, to_24(dataset.columns, coords), row.points)
        known = weight > 0
        worst = max(worst, float(np.abs(coords[known] - joints[known, :2]).max()))
    # a heatmap cell is 4 input px = 128 * 1.25 / 256 * 4 = 2.5 image px here: rounding to a
    # cell (half of one) plus GluonCV's quarter shift bound each coordinate's error; flipping
    # back adds GluonCV's one-cell shift
    cell = 128 * 1.25 / INPUT[0] * 4
    assert worst <= (1.8 if flip else 0.8) * cell, worst
    assert metric.overall < (6.0 if flip else 5.0), metric.per_category()
