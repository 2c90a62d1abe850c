import json

import mxnet as mx
import numpy as np
from mxnet.gluon import nn

from gluonext.engine.export import (
    OnnxUnsupported,
    export_onnx,
    export_symbol,
    fixed_size_resizes,
    load_symbol,
    max_differences,
    sliced_adaptive_pools,
)
from gluonext.engine.runners import OnnxRunner, SymbolRunner


class LikeResize(nn.HybridBlock):
    """Downsample, convolve, resize back 'like' the input (as the segmentation heads do)."""

    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.conv = nn.Conv2D(3, 3, strides=2, padding=1, in_channels=3)

    def hybrid_forward(self, F, x):
        return F.contrib.BilinearResize2D(self.conv(x), like=x, mode="like")


def test_like_resizes_become_fixed_sizes_with_the_same_result(tmp_path):
    block = LikeResize()
    block.initialize()
    x = mx.nd.random.uniform(shape=(2, 3, 37, 29))
    expected = block(x).asnumpy()
    export_symbol(block, (1, 3, 37, 29), tmp_path)
    symbol, params = load_symbol(tmp_path)
    fixed = fixed_size_resizes(symbol, (1, 3, 37, 29))
    assert '"mode": "size"' in fixed.tojson() and '"height": "37"' in fixed.tojson()
    args = {k: v for k, v in params.items() if k in fixed.list_arguments()}
    got = fixed.eval(ctx=mx.cpu(), data=x, **args)[0].asnumpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    path = export_onnx(tmp_path, (1, 3, 37, 29))
    onnx_out = OnnxRunner(path)(x.asnumpy())[0]  # batch 2 through a batch-1 export
    np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
    np.testing.assert_allclose(SymbolRunner(tmp_path)(x.asnumpy())[0], expected, atol=1e-6)


def test_an_operator_without_conversion_is_named(tmp_path):
    block = nn.HybridSequential()
    block.add(nn.Conv2D(4, 3, in_channels=3), nn.HybridLambda(lambda F, x: F.gamma(x)))
    block.initialize()
    export_symbol(block, (1, 3, 8, 8), tmp_path)
    try:
        export_onnx(tmp_path, (1, 3, 8, 8))
    except OnnxUnsupported as exc:
        assert "operator gamma has no ONNX conversion" in str(exc)
    else:
        raise AssertionError("gamma converted")
    assert not (tmp_path / "model.onnx").exists()


def test_adaptive_pools_become_slices_with_the_same_result():
    """Uneven bins (13 x 11 into 2, 3, 6): MXNet's floor / ceil bins, reproduced exactly."""
    x = mx.sym.var("data")
    pools = [mx.sym.contrib.AdaptiveAvgPooling2D(x, output_size=s) for s in (1, 2, 3, 6, (2, 3))]
    symbol = mx.sym.Group(pools)
    data = mx.nd.random.uniform(shape=(2, 5, 13, 11))
    expected = [o.asnumpy() for o in symbol.eval(ctx=mx.cpu(), data=data)]
    sliced = sliced_adaptive_pools(symbol, (1, 5, 13, 11))
    ops = [n["op"] for n in json.loads(sliced.tojson())["nodes"]]
    assert ops.count("_contrib_AdaptiveAvgPooling2D") == 1  # only the 1 x 1 one is kept
    for got, want in zip(sliced.eval(ctx=mx.cpu(), data=data), expected, strict=True):
        np.testing.assert_allclose(got.asnumpy(), want, atol=1e-6)


def test_differences_treat_equal_overflow_as_equal():
    a = np.array([1.0, np.inf, 3.0], dtype=np.float32)
    assert max_differences([a], [a.copy()]) == [0.0]
    assert max_differences([a], [a + 1]) == [1.0]
    assert max_differences([a], [np.array([1.0, 2.0, 3.0])]) == [float("inf")]
    assert max_differences([a], [a[:2]]) == [float("inf")]
