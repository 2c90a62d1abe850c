"""The ONNX conversions gluonext registers, against MXNet's own operators on random inputs:
``box_nms`` as the RPN and the R-CNN head call it, and ``GroupNorm``."""

import mxnet as mx
import numpy as np
import onnxruntime as ort
import pytest

from gluonext.engine.compat import onnx_model_from_symbol


def _run_both(symbol, data, params=None):
    params = {k: mx.nd.array(v) for k, v in (params or {}).items()}
    model = onnx_model_from_symbol(symbol, params, data.shape)
    session = ort.InferenceSession(model.SerializeToString())
    theirs = session.run(None, {"data": data})[0]
    args = {"data": mx.nd.array(data), **params}
    ours = symbol.eval(ctx=mx.cpu(), **args)[0].asnumpy()
    return ours, theirs


def _boxes(rng, rows, count, classes=None):
    """rows x count candidates: [score, x1, y1, x2, y2] (or [id, score, ...] with classes),
    some invalid (score -1), many overlapping."""
    x1 = rng.uniform(0, 60, (rows, count))
    y1 = rng.uniform(0, 60, (rows, count))
    w, h = rng.uniform(5, 40, (rows, count)), rng.uniform(5, 40, (rows, count))
    score = rng.uniform(0, 1, (rows, count))
    score[rng.uniform(size=(rows, count)) < 0.2] = -1
    columns = [score, x1, y1, x1 + w, y1 + h]
    if classes:
        columns.insert(0, rng.randint(0, classes, (rows, count)).astype(float))
    return np.stack(columns, axis=-1).astype(np.float32)


@pytest.mark.parametrize("topk", [-1, 30, 500])
def test_class_agnostic_box_nms_keeps_the_topk_first_like_the_rpn(topk):
    data = _boxes(np.random.RandomState(topk % 7), 1, 200)
    symbol = mx.sym.contrib.box_nms(mx.sym.var("data"), overlap_thresh=0.5, topk=topk,
                                    coord_start=1, score_index=0, id_index=-1,
                                    force_suppress=True)  # fmt: skip
    ours, theirs = _run_both(symbol, data)
    assert theirs.shape == ours.shape == data.shape
    np.testing.assert_allclose(theirs, ours, atol=1e-6)
    kept = (ours[0, :, 0] >= 0).sum()
    assert 0 < kept < 200 and (ours[0, kept:] == -1).all()


def test_per_class_box_nms_over_several_rows_like_the_rcnn_head():
    data = _boxes(np.random.RandomState(3), 4, 120, classes=3)
    symbol = mx.sym.contrib.box_nms(mx.sym.var("data"), overlap_thresh=0.3, topk=80,
                                    coord_start=2, score_index=1, id_index=0,
                                    force_suppress=False, valid_thresh=0.05)  # fmt: skip
    ours, theirs = _run_both(symbol, data)
    np.testing.assert_allclose(theirs, ours, atol=1e-6)
    # classes kept apart: overlapping boxes of two classes both stay
    assert len(np.unique(ours[0, ours[0, :, 1] > 0, 0])) == 3


def test_box_nms_of_rows_with_nothing_valid_is_all_minus_one():
    data = _boxes(np.random.RandomState(1), 2, 10)
    data[..., 0] = -1
    symbol = mx.sym.contrib.box_nms(mx.sym.var("data"), overlap_thresh=0.7, topk=5,
                                    coord_start=1, score_index=0)  # fmt: skip
    ours, theirs = _run_both(symbol, data)
    assert (ours == -1).all() and (theirs == -1).all()


def test_group_norm_converts_to_the_same_numbers():
    rng = np.random.RandomState(0)
    data = rng.randn(2, 8, 5, 6).astype(np.float32) * 3 + 1
    gamma, beta = rng.rand(4).astype(np.float32) + 0.5, rng.randn(4).astype(np.float32)
    symbol = mx.sym.GroupNorm(mx.sym.var("data"), mx.sym.var("gamma"), mx.sym.var("beta"),
                              num_groups=4, eps=1e-5)  # fmt: skip
    ours, theirs = _run_both(symbol, data, {"gamma": gamma, "beta": beta})
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
