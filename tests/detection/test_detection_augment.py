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


def gradient_image(size=(120, 160)):
    """Red rising from left to right over full green: a flip shows as red falling."""
    h, w = size
    image = np.zeros((h, w, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, w).astype(np.uint8)[None, :]
    image[:, :, 1] = 255
    return image, np.array([[40, 30, 100, 70, 1, 0]], np.float32)


def was_flipped(tensor) -> bool:
    """Whether red falls from left to right over the image's own pixels (green, not the
    zoom-out's mean-colour fill)."""
    pixels = tensor.transpose(1, 2, 0) * aug.STD + aug.MEAN
    ys, xs = np.nonzero(pixels[:, :, 1] > 0.9)
    return np.corrcoef(xs, pixels[ys, xs, 0])[0, 1] < 0


DRAWS = 2000  # 1,000 expected per 1/2 event, standard deviation 22.4


def test_flip_and_zoom_out_each_come_with_gluoncvs_probability_one_half(monkeypatch):
    """Counted on every draw: the flip from the picture itself, the zoom-out from the canvas
    the crop is taken from. Within 4 standard deviations of 1,000 in 2,000 (910..1,090): a
    probability of 0.4 or 0.6 (800 or 1,200 expected) falls far outside."""
    canvases = []
    crop = aug.constrained_crop

    def spy(boxes, size, rng, *args, **kwargs):
        canvases.append(tuple(size))
        return crop(boxes, size, rng, *args, **kwargs)

    monkeypatch.setattr(aug, "constrained_crop", spy)
    image, label = gradient_image()
    flips = 0
    for seed in range(DRAWS):
        tensor, _ = aug.augment(image, label, 32, 32, np.random.RandomState(seed), color=False)
        flips += was_flipped(tensor)
    zoomed = sum(size != (160, 120) for size in canvases)
    assert len(canvases) == DRAWS
    assert abs(flips - DRAWS / 2) <= 90, f"{flips} flips in {DRAWS} draws"
    assert abs(zoomed - DRAWS / 2) <= 90, f"{zoomed} zoom-outs in {DRAWS} draws"


def test_the_flip_detector_sees_a_flip():
    image, _ = gradient_image()
    pixels = ((image / 255.0 - aug.MEAN) / aug.STD).transpose(2, 0, 1)
    assert not was_flipped(pixels) and was_flipped(pixels[:, :, ::-1])


def corners(center_boxes):
    cx, cy, w, h = np.split(np.asarray(center_boxes, np.float64), 4, axis=-1)
    return np.concatenate([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def test_ssd_targets_are_gluoncvs_matching_of_the_augmented_box():
    """Positives: the box's best anchor and every anchor with IoU >= 0.5 (GluonCV's bipartite
    then maximum matcher), class 1 + 1; each positive's box target decodes to the box."""
    from gluonext.detection.model import build_ssd, ssd_anchors

    image, label = painted()
    net = build_ssd("mobilenet0.25", 300, ["a", "b"])
    anchors = ssd_anchors(net, 300).asnumpy().reshape(-1, 4)
    tensor, cls_t, box_t = aug.SSDTrainTransform(300, 300, ssd_anchors(net, 300))(
        image, label[:, :5], np.random.RandomState(0)
    )
    expected_tensor, boxes = aug.augment(image, label[:, :5], 300, 300, np.random.RandomState(0))
    np.testing.assert_array_equal(tensor.asnumpy(), expected_tensor)
    assert len(boxes) == 1
    box = boxes[0, :4].astype(np.float64)
    iou = aug._iou(corners(anchors), box[None])[:, 0]
    positive = (iou >= 0.5) | (np.arange(len(iou)) == iou.argmax())
    classes = cls_t.asnumpy()
    np.testing.assert_array_equal(classes, np.where(positive, 2, 0))
    assert positive.sum() >= 1
    targets = box_t.asnumpy()[positive].astype(np.float64)
    matched = anchors[positive].astype(np.float64)
    decoded_center = targets[:, :2] * 0.1 * matched[:, 2:] + matched[:, :2]
    decoded_size = np.exp(targets[:, 2:] * 0.2) * matched[:, 2:]
    decoded = corners(np.hstack([decoded_center, decoded_size]))
    np.testing.assert_allclose(decoded, np.repeat(box[None], len(decoded), 0), atol=1e-3)


def test_yolo3_targets_mark_one_anchor_for_the_augmented_box():
    """One box: exactly one positive anchor, of class 1, weighted 2 - box area / image area
    (GluonCV's YOLOv3 target), and the ground truth carried is that box."""
    from gluonext.detection.model import build_yolo3

    image, label = painted()
    yolo = build_yolo3("mobilenet0.25", ["a", "b"])
    out = aug.YOLO3TrainTransform(128, 128, yolo)(image, label[:, :5], np.random.RandomState(0))
    expected_tensor, boxes = aug.augment(image, label[:, :5], 128, 128, np.random.RandomState(0))
    tensor, objectness, _, _, weights, classes, gt_boxes = (x.asnumpy() for x in out)
    np.testing.assert_array_equal(tensor, expected_tensor)
    np.testing.assert_allclose(gt_boxes, boxes[:, :4], rtol=1e-6)
    positive = objectness[:, 0] == 1  # one row per (cell, anchor) of the three levels
    assert positive.sum() == 1 and set(np.unique(objectness)) == {0.0, 1.0}
    np.testing.assert_array_equal(classes[positive], [[0, 1]])
    x1, y1, x2, y2 = boxes[0, :4]
    np.testing.assert_allclose(weights[positive], [[2 - (x2 - x1) * (y2 - y1) / 128**2] * 2],
                               rtol=1e-5)  # fmt: skip
