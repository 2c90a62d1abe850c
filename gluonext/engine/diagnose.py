"""Where an ONNX model stops agreeing with its MXNet symbol: both run on one input with every
operator's output exposed, compared in graph order; the first operator whose output differs
is the one to name."""

from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.engine.compat import load_param_value
from gluonext.engine.export import fixed_size_resizes, load_symbol, sliced_adaptive_pools


def first_divergence(folder: Path, onnx_path: Path, predictor, image, tolerance: float) -> str:
    """'operator OP (node NAME)' of the first output that differs by more than ``tolerance``
    (relative to its magnitude), or a description of the final outputs if none does."""
    import onnx
    import onnxruntime as ort

    batch, _ = predictor.prepare(image)
    batch = np.ascontiguousarray(batch[:1], dtype=np.float32)
    symbol, params = load_symbol(folder)
    symbol = sliced_adaptive_pools(fixed_size_resizes(symbol, batch.shape), batch.shape)
    internals = symbol.get_internals()
    listed = internals.list_outputs()
    available = {n for n in listed if listed.count(n) == 1}  # a shared layer's are ambiguous
    model = onnx.load(str(onnx_path))
    produced = {name for node in model.graph.node for name in node.output}
    nodes = [
        (node["name"], node["op"])
        for node in json.loads(symbol.tojson())["nodes"]
        if node["op"] != "null"
        and node["name"] in produced
        and f"{node['name']}_output" in available
    ]
    known = {o.name for o in model.graph.output}
    for name, _ in nodes:
        if name not in known:
            model.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])  # fmt: skip
    theirs = session.run([n for n, _ in nodes], {session.get_inputs()[0].name: batch})
    group = mx.sym.Group([internals[f"{n}_output"] for n, _ in nodes])
    block = mx.gluon.SymbolBlock(group, mx.sym.var("data"))
    for name, param in block.collect_params().items():
        load_param_value(param, params[name])
    ours = block(mx.nd.array(batch))
    for (name, op), ref, out in zip(nodes, ours, theirs, strict=True):
        ref = ref.asnumpy()
        if ref.shape != out.shape:
            return f"operator {op} (node {name}: shape {out.shape} instead of {ref.shape})"
        if ref.size and np.abs(ref - out).max() > tolerance * max(1.0, float(np.abs(ref).max())):
            return f"operator {op} (node {name})"
    return "the final results (every operator's output agrees within the tolerance)"
