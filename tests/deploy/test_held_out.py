"""The INT8 check's two halves on cases worked by hand: each task's metric of a predictor on
a held-out split (RunData.score) and the fold of BatchNorm into ConvTranspose."""

from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from gluonext.deploy.held_out import METRICS, RunData
from gluonext.deploy.quantize import fold_transposed_batchnorm, operator_counts
from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS, NORMALIZER, KeypointRow

IMAGE = np.zeros((4, 6, 3), np.uint8)


class Answers:
    """A predictor that answers image ``k`` with ``answers[k]``, in order."""

    def __init__(self, answers, **extra):
        self.answers, self.calls = list(answers), 0
        self.__dict__.update(extra)

    def __call__(self, image, category=None):
        self.calls += 1
        return self.answers[self.calls - 1]


def _score(task, held_out, predictor, limit=None):
    return RunData(task, held_out, held_out, METRICS[task]).score(predictor, limit)


def test_segmentation_score_is_mean_iou_in_points():
    label = np.array([[0, 0, 1], [0, 1, 1]])
    held_out = _Sized(SimpleNamespace(NUM_CLASS=2, CLASSES=("bg", "garment"),
                                      load=lambda k: (IMAGE, label)), 2)  # fmt: skip
    perfect = Answers([SimpleNamespace(class_map=label)] * 2)
    assert _score("segmentation", held_out, perfect) == pytest.approx(100.0)
    # one pixel of class 1 called 0: IoU bg 3/4, garment 2/3 (both images alike)
    wrong = label.copy()
    wrong[0, 2] = 0
    assert _score("segmentation", held_out, Answers([SimpleNamespace(class_map=wrong)] * 2)) == (
        pytest.approx(100 * (3 / 4 + 2 / 3) / 2))
    assert _score("segmentation", held_out, Answers([SimpleNamespace(class_map=wrong),
                                                      SimpleNamespace(class_map=label)]), 1) == (
        pytest.approx(100 * (3 / 4 + 2 / 3) / 2))  # limit 1: the second image is not read


def test_detection_score_is_voc07_map_in_points():
    truth = np.array([[10, 10, 50, 50, 0], [60, 10, 90, 40, 1]], np.float32)
    held_out = _Sized(SimpleNamespace(CLASSES=("shirt", "skirt"), load=lambda k: (IMAGE, truth)), 1)

    def found(boxes, ids, scores):
        return SimpleNamespace(boxes=np.array(boxes, np.float32), class_ids=np.array(ids),
                               scores=np.array(scores, np.float32))  # fmt: skip

    assert _score("detection", held_out, Answers([found(truth[:, :4], [0, 1], [0.9, 0.8])])) == (
        pytest.approx(100.0))
    # the skirt found, the shirt's box shifted off it (IoU < 0.5): AP 0 and 1
    shifted = [[40, 40, 80, 80], [60, 10, 90, 40]]
    assert _score("detection", held_out, Answers([found(shifted, [0, 1], [0.9, 0.8])])) == (
        pytest.approx(50.0))


def test_keypoint_score_is_ne_in_percent_and_uses_the_rows_category():
    points = np.zeros((24, 3), np.float32)
    points[:, 2] = -1
    a, b = (FASHIONAI_KEYPOINTS.index(n) for n in NORMALIZER["skirt"])
    points[[a, b]] = [[10, 20, 1], [50, 20, 1]]  # waistband 40 px apart
    row = KeypointRow("Images/skirt/1.jpg", "skirt", points, 2)
    held_out = _Sized(SimpleNamespace(rows=[row], load=lambda k: (IMAGE, None, None)), 1)
    guess = np.zeros((24, 2), np.float32)
    guess[[a, b]] = [[10, 24], [50, 20]]  # 4 px off on one of the two visible points
    predictor = Answers([SimpleNamespace(points=guess)], names=list(FASHIONAI_KEYPOINTS))
    assert _score("keypoints", held_out, predictor) == pytest.approx(100 * (4 / 40) / 2)


def test_drop_counts_a_loss_as_positive_either_way():
    assert METRICS["segmentation"].drop(60.0, 59.0) == pytest.approx(1.0)
    assert METRICS["keypoints"].drop(12.0, 13.5) == pytest.approx(1.5)
    assert METRICS["keypoints"].drop(12.0, 11.0) == pytest.approx(-1.0)


class _Sized:
    """``held_out`` with a length (SimpleNamespace cannot take ``__len__``)."""

    def __init__(self, inner, size):
        self.inner, self.size = inner, size

    def __len__(self):
        return self.size

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_batchnorm_after_conv_transpose_is_folded_exactly(tmp_path):
    rng = np.random.RandomState(0)
    kernel = rng.randn(3, 4, 4, 4).astype(np.float32)  # (in, out, kh, kw)
    gamma, beta = rng.rand(4).astype(np.float32) + 0.5, rng.randn(4).astype(np.float32)
    mean, var = rng.randn(4).astype(np.float32), rng.rand(4).astype(np.float32) + 0.1
    graph = helper.make_graph(
        [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2],
                          pads=[1, 1, 1, 1]),
         helper.make_node("BatchNormalization", ["y", "g", "b", "m", "v"], ["z"], name="bn",
                          epsilon=1e-3),
         helper.make_node("Relu", ["z"], ["out"], name="relu")],
        "up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for a, n in
         ((kernel, "w"), (gamma, "g"), (beta, "b"), (mean, "m"), (var, "v"))],
    )  # fmt: skip
    path = tmp_path / "up.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    x = rng.randn(1, 3, 5, 5).astype(np.float32)
    before = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert fold_transposed_batchnorm(path) == 1
    assert operator_counts(path) == {"ConvTranspose": 1, "Relu": 1}
    after = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert before.shape == (1, 4, 10, 10) and np.abs(after - before).max() < 1e-5
    assert fold_transposed_batchnorm(path) == 0  # nothing left to fold
