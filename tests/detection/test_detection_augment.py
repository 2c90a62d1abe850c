"""GluonCV's SSD / YOLOv3 augmentation in NumPy: the colour steps compose exactly, boxes follow
the pixels through zoom-out, crop, resize and flip, crops obey GluonCV's rules, and the draws
repeat for a seed."""

import numpy as np
import pytest
from gluoncv.data.transforms.bbox import crop as gluoncv_crop

from gluonext.detection import augment as aug


def test_color_steps_compose_into_one_affine_map():
    rng = np.random.RandomState(0)
    pixels = rng.uniform(0, 255, (50, 3))
    steps = [aug.brightness_step(12.0), aug.contrast_step(1.3), aug.saturation_step(0.6),
             aug.hue_step(7.0)]  # fmt: skip
    expected = pixels + 12.0
    expected = expected * 1.3
    gray = (expected * aug.GRAY).sum(axis=1, keepdims=True)
    expected = expected * 0.6 + gray * 0.4  # GluonCV's saturation
    expected = expected @ steps[3][0]
    matrix, offset = aug.compose(steps)
    np.testing.assert_allclose(pixels @ matrix + offset, expected, rtol=1e-9)


def test_hue_step_matches_gluoncvs_matrix():
    """GluonCV: t = (ityiq @ bt @ tyiq).T applied as src @ t."""
    alpha = 0.3
    u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
    bt = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
    t = np.dot(np.dot(aug._RGB, bt), aug._YIQ).T
    np.testing.assert_allclose(aug.hue_step(alpha)[0], t)


def painted(size=(120, 160)):
    """An image with one green box on grey, and its label row (class 1)."""
    h, w = size
    image = np.full((h, w, 3), 90, np.uint8)
    image[30:70, 40:100] = (0, 255, 0)
    return image, np.array([[40, 30, 100, 70, 1, 0]], np.float32)


@pytest.mark.parametrize("seed", range(25))
def test_boxes_follow_the_pixels(seed):
    image, label = painted()
    tensor, boxes = aug.augment(image, label, 96, 96, np.random.RandomState(seed), color=False)
    assert tensor.shape == (3, 96, 96) and tensor.dtype == np.float32
    pixels = tensor.transpose(1, 2, 0) * aug.STD + aug.MEAN
    for x1, y1, x2, y2, cls, _ in boxes:
        assert cls == 1 and -1e-3 <= x1 < x2 <= 96.001 and -1e-3 <= y1 < y2 <= 96.001
        inner = pixels[int(y1) + 2 : int(y2) - 1, int(x1) + 2 : int(x2) - 1]
        if inner.size:  # inside the box: the green paint
            assert inner[..., 1].mean() > 0.85 and inner[..., 0].mean() < 0.15
        cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
        assert pixels[cy, cx, 1] > 0.8


def test_the_zoom_out_fill_stays_the_undistorted_mean():
    """GluonCV distorts colours before zooming out: its fill is the plain mean colour (zero
    after normalisation) whatever the colour draw."""
    image, label = painted()
    found = 0
    for seed in range(40):
        tensor, _ = aug.augment(image, label, 64, 64, np.random.RandomState(seed))
        corners = tensor[:, [0, 0, -1, -1], [0, -1, 0, -1]]
        zeros = np.abs(corners).max(axis=0) < 1e-4
        found += int(zeros.any())
        assert np.abs(tensor).max() > 0.1  # the image is in there
    assert found >= 5  # zoomed out (and the fill reached a corner) in several draws


def test_crops_follow_gluoncvs_rules():
    rng = np.random.RandomState(3)
    boxes = np.array([[10, 10, 50, 40, 0], [60, 20, 120, 90, 1]], np.float32)
    for _ in range(200):
        kept, (left, top, width, height) = aug.constrained_crop(boxes, (160, 120), rng)
        assert 0 <= left and 0 <= top and left + width <= 160 and top + height <= 120
        assert len(kept) >= 1
        np.testing.assert_allclose(kept, gluoncv_crop(boxes, (left, top, width, height), False))


def test_the_draws_repeat_and_vary():
    image, label = painted()
    a = aug.augment(image, label, 64, 64, np.random.RandomState(5))
    b = aug.augment(image, label, 64, 64, np.random.RandomState(5))
    c = aug.augment(image, label, 64, 64, np.random.RandomState(6))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    flips = expands = 0
    for seed in range(300):  # GluonCV's probabilities: flip 1/2, zoom out 1/2
        rng = np.random.RandomState(seed)
        _, boxes = aug.augment(image, label, 64, 64, rng, color=False)
        flips += boxes[0, 0] > 64 - boxes[0, 2]  # the box (left of centre) moved right
        expands += (boxes[0, 2] - boxes[0, 0]) < 20
    assert 100 < flips < 200 and 60 < expands < 240


def test_ssd_and_yolo_targets_come_out(tmp_path):
    from gluonext.detection.model import build_ssd, build_yolo3, ssd_anchors

    image, label = painted()
    net = build_ssd("mobilenet0.25", 300, ["a", "b"])
    tensor, cls_t, box_t = aug.SSDTrainTransform(300, 300, ssd_anchors(net, 300))(
        image, label[:, :5], np.random.RandomState(0)
    )
    assert tensor.shape == (3, 300, 300) and (cls_t.asnumpy() > 0).sum() >= 1
    yolo = build_yolo3("mobilenet0.25", ["a", "b"])
    out = aug.YOLO3TrainTransform(128, 128, yolo)(image, label[:, :5], np.random.RandomState(0))
    assert out[0].shape == (3, 128, 128) and out[1].asnumpy().sum() >= 1  # objectness set
