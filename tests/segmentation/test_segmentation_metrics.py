import mxnet as mx
import numpy as np
import pytest
from gluoncv.utils.metrics.segmentation import SegmentationMetric

from gluonext.segmentation.metrics import ConfusionMatrix


def test_hand_computed_iou_and_pixel_accuracy():
    labels = np.array([[0, 0, 1, 1], [2, 2, -1, 255]])
    preds = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    cm = ConfusionMatrix(3, ["bg", "a", "b"])
    cm.update(labels, preds)
    # class 0: tp 1, fp 1 (label 2 -> 0), fn 1 (label 0 -> 1): 1/3
    # class 1: tp 2, fp 1, fn 0: 2/3 ; class 2: tp 1, fp 0, fn 1: 1/2
    np.testing.assert_allclose(cm.iou, [1 / 3, 2 / 3, 1 / 2])
    assert cm.mean_iou == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert cm.pixel_accuracy == pytest.approx(4 / 6)  # ignored -1 and 255 left out
    assert "mIoU" in cm.table() and "0.667" in cm.table()


def test_dataset_level_iou_is_not_the_mean_of_per_image_iou():
    cm = ConfusionMatrix(2)
    cm.update(np.array([1, 1, 1, 1]), np.array([1, 1, 1, 1]))  # perfect on a big object
    cm.update(np.array([1, 0]), np.array([0, 0]))  # missed a small one
    assert cm.iou[1] == pytest.approx(4 / 5)


def test_absent_classes_do_not_count_towards_miou():
    cm = ConfusionMatrix(3)
    cm.update(np.array([0, 1]), np.array([0, 1]))
    assert np.isnan(cm.iou[2]) and cm.mean_iou == 1.0
    assert cm.as_dict()["per_class_iou"]["2"] is None


def test_agrees_with_gluoncv_segmentation_metric():
    rng = np.random.RandomState(0)
    ours = ConfusionMatrix(5)
    theirs = SegmentationMetric(5)
    for _ in range(6):
        labels = rng.randint(0, 5, size=(2, 24, 32))
        labels[rng.rand(*labels.shape) < 0.1] = -1  # GluonCV's ignore label
        logits = rng.rand(2, 5, 24, 32)
        logits[:, 3] += labels == 3  # make some classes easier than others
        preds = logits.argmax(1)
        ours.update(labels, preds)
        theirs.update(mx.nd.array(labels), mx.nd.array(logits))
    pix_acc, miou = theirs.get()
    assert ours.pixel_accuracy == pytest.approx(pix_acc, abs=1e-6)
    assert ours.mean_iou == pytest.approx(miou, abs=1e-6)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ"):
        ConfusionMatrix(2).update(np.zeros((2, 2)), np.zeros((2, 3)))
