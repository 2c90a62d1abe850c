import random

import mxnet as mx
import numpy as np
import pytest

from gluonext.keypoints.presets import PoseTrainTransform, gaussian_heatmaps, pose_input


def gluoncv_joints(joints, weight):
    j3d = np.zeros((len(joints), 3, 2), np.float32)
    j3d[:, 0, 0], j3d[:, 1, 0] = joints[:, 0], joints[:, 1]
    j3d[:, :2, 1] = weight[:, None]
    return j3d


def test_heatmaps_equal_gluoncvs_generator():
    from gluoncv.model_zoo.simple_pose.pose_target import SimplePoseGaussianTargetGenerator

    rng = np.random.RandomState(0)
    points = rng.uniform(-30, 220, size=(40, 3)).astype(np.float32)
    weight = (rng.rand(40) > 0.2).astype(np.float32)
    ours, ours_w = gaussian_heatmaps(points, weight, (192, 256), (48, 64), sigma=2)
    theirs, theirs_w = SimplePoseGaussianTargetGenerator(40, (192, 256), (48, 64), 2)(
        gluoncv_joints(points, weight)
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_array_equal(ours_w, theirs_w)
    assert (ours_w == 0).any() and (ours_w == 1).any()  # some joints miss the map


@pytest.mark.parametrize("flip", [False, True])
def test_without_random_scale_and_rotation_it_equals_gluoncvs_transform(flip):
    from gluoncv.data.transforms.presets.simple_pose import SimplePoseDefaultTrainTransform

    rng = np.random.RandomState(1)
    image = rng.randint(0, 255, size=(120, 90, 3)).astype(np.uint8)
    joints = np.concatenate([rng.uniform(5, 85, (6, 1)), rng.uniform(5, 115, (6, 1)),
                             np.ones((6, 1))], axis=1).astype(np.float32)  # fmt: skip
    weight = np.array([1, 1, 0, 1, 1, 1], np.float32)
    pairs = [(0, 1), (3, 4)]
    ours = PoseTrainTransform(pairs, (128, 96), 2, scale_factor=0, rotation_factor=0, flip=flip)

    class AlwaysFlip:  # our draws: randn (scale), rand (rotation?), rand > 0.5 (flip)
        def randn(self):
            return 0.0

        def rand(self):
            return 0.9

    theirs = SimplePoseDefaultTrainTransform(6, pairs, (128, 96), (32, 24), 2, random_flip=flip,
                                             scale_factor=0, rotation_factor=0)  # fmt: skip
    label = {"bbox": [0, 0, 90, 120], "joints_3d": gluoncv_joints(joints, weight)}
    random.seed(3)  # GluonCV draws random.random() for rotation (0.24), then flip (0.54 > 0.5)
    img, target, target_w, _ = theirs(mx.nd.array(image, dtype=np.uint8), label, "x")
    x, heat, heat_w = ours(image, joints, weight, AlwaysFlip())
    np.testing.assert_allclose(x, img.asnumpy(), atol=1e-5)
    np.testing.assert_allclose(heat, target, atol=1e-6)
    np.testing.assert_array_equal(heat_w, target_w)


def test_validation_input_is_the_whole_image_with_gluoncvs_margin():
    image = np.zeros((100, 60, 3), np.uint8)
    x, center, scale = pose_input(image, (128, 96))
    assert x.shape == (3, 128, 96)
    np.testing.assert_allclose(center, [30, 50])
    np.testing.assert_allclose(scale, [75 * 1.25, 100 * 1.25])  # width grown to 3:4
