"""An exported fp32 ONNX model to INT8 with ONNX Runtime's static quantization: BatchNorm
folded into the convolutions first (ONNX Runtime's pre-processing), then QDQ nodes with
per-channel INT8 weights and UINT8 activations whose ranges come from real images (MinMax
calibration). The result is an ordinary ``.onnx`` any ONNX Runtime session runs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from gluonext.errors import ModelError

# the operators that carry the compute; decoding arithmetic (box offsets, anchors, scores)
# stays in float, so quantization costs only what the network itself loses. ConvTranspose
# stays float too: quantized (QDQ) it made SimplePose slower than fp32 in ONNX Runtime 1.19
# (88 against 92 img/s; 153 with it left float).
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")


def quantize_onnx(fp32: Path, int8: Path, batches: list[np.ndarray], input_name: str = "data"):
    """Write ``int8`` from the model at ``fp32``, calibrated on ``batches`` (prepared network
    inputs, each N x 3 x H x W float32)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not batches:
        raise ModelError("INT8 calibration needs at least one image (--calib-images)")

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.left = iter(batches)

        def get_next(self):
            batch = next(self.left, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(dir=Path(int8).parent) as scratch:
        folded = Path(scratch) / "folded.onnx"
        quant_pre_process(str(fp32), str(folded), skip_symbolic_shape=True)
        fold_transposed_batchnorm(folded)
        # ONNX Runtime 1.19 pins every Softmax output's range even when Softmax is not
        # quantized, and fails unless that output was calibrated: calibrate it, keep it float
        softmax = [n.name for n in _nodes(folded) if n.op_type == "Softmax"]
        quantize_static(
            str(folded), str(int8), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            op_types_to_quantize=[*QUANTIZED_OPS, "Softmax"], nodes_to_exclude=softmax,
        )  # fmt: skip


def _nodes(path: Path):
    import onnx

    return onnx.load(str(path), load_external_data=False).graph.node


def operator_counts(path: Path) -> dict[str, int]:
    """How many nodes of each operator type the model at ``path`` has."""
    counts: dict[str, int] = {}
    for node in _nodes(path):
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def fold_transposed_batchnorm(path: Path) -> int:
    """Fold each BatchNormalization that alone reads a ConvTranspose (group 1) into that
    layer's weights and bias, in place (ONNX Runtime folds BatchNorm into Conv only); the
    number folded."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    makers = {out: node for node in graph.node for out in node.output}
    folded = []
    for bn in [n for n in graph.node if n.op_type == "BatchNormalization"]:
        layer = makers.get(bn.input[0])
        if (layer is None or layer.op_type != "ConvTranspose" or readers[bn.input[0]] != 1
                or any(a.name == "group" and a.i != 1 for a in layer.attribute)
                or not all(name in weights for name in (*bn.input[1:5], layer.input[1]))
                or (len(layer.input) > 2 and layer.input[2] not in weights)):  # fmt: skip
            continue
        gamma, beta, mean, var = (numpy_helper.to_array(weights[n]) for n in bn.input[1:5])
        eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
        scale = gamma / np.sqrt(var + eps)
        kernel = numpy_helper.to_array(weights[layer.input[1]])  # (in, out, kh, kw)
        bias = (numpy_helper.to_array(weights[layer.input[2]]) if len(layer.input) > 2
                else np.zeros(kernel.shape[1], kernel.dtype))  # fmt: skip
        names = (f"{layer.name}_folded_weight", f"{layer.name}_folded_bias")
        graph.initializer.extend([
            numpy_helper.from_array((kernel * scale.reshape(1, -1, 1, 1)).astype(kernel.dtype),
                                    names[0]),
            numpy_helper.from_array(((bias - mean) * scale + beta).astype(kernel.dtype), names[1]),
        ])  # fmt: skip
        del layer.input[1:]
        layer.input.extend(names)
        layer.output[0] = bn.output[0]
        folded.append(bn)
    for bn in folded:
        graph.node.remove(bn)
    if folded:
        used = {name for node in graph.node for name in node.input}
        stale = [t for t in graph.initializer if t.name not in used]
        for tensor in stale:
            graph.initializer.remove(tensor)
        onnx.save(model, str(path))
    return len(folded)
