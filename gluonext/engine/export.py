"""A Gluon network as files a user can load without gluonext: an MXNet symbol with its
parameters (``gluon.SymbolBlock.imports``) and an ONNX model (ONNX Runtime).

Networks here resize with ``BilinearResize2D(mode='like')`` so that one network serves every
input size; MXNet's ONNX converter refuses that mode. ``fixed_size_resizes`` rewrites each
such resize, for one input size, into the same operator with its output size written out
(``mode='size'``, the height and width that the 'like' input has at that size): the same
computation, which the converter accepts. ``sliced_adaptive_pools`` does the same for
adaptive average pooling beyond 1 x 1 (PSPNet, Fast-SCNN, ICNet), as the mean of each of
MXNet's bins.
"""

from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.files import atomic_open
from gluonext.engine.compat import onnx_model_from_symbol, onnx_supported_ops
from gluonext.errors import ModelError

PREFIX = "model"
SYMBOL, PARAMS, ONNX = f"{PREFIX}-symbol.json", f"{PREFIX}-0000.params", f"{PREFIX}.onnx"
INT8 = f"{PREFIX}-int8.onnx"  # the quantized twin of ONNX


class OnnxUnsupported(ModelError):
    """The network cannot go to ONNX; the message names the operator."""


def export_symbol(block: mx.gluon.HybridBlock, input_shape: tuple, folder: Path, ctx=None):
    """Write ``model-symbol.json`` and ``model-0000.params`` of ``block`` (one input, ``data``)
    into ``folder``; returns the two paths."""
    folder = Path(folder)
    block.hybridize()
    with mx.autograd.predict_mode():
        block(mx.nd.zeros(input_shape, ctx=ctx or mx.cpu()))
    block.export(str(folder / PREFIX), epoch=0, remove_amp_cast=True)
    return folder / SYMBOL, folder / PARAMS


def load_symbol(folder: Path):
    """(symbol, {name: NDArray}) of an exported network, parameter names without the
    ``arg:`` / ``aux:`` prefixes."""
    folder = Path(folder)
    symbol = mx.sym.load(str(folder / SYMBOL))
    loaded = mx.nd.load(str(folder / PARAMS))
    return symbol, {name.split(":", 1)[-1]: value for name, value in loaded.items()}


def operators(symbol) -> set[str]:
    return {node["op"] for node in json.loads(symbol.tojson())["nodes"] if node["op"] != "null"}


def _output_shapes(symbol, input_shape) -> dict[str, tuple]:
    internals = symbol.get_internals()
    _, shapes, _ = internals.infer_shape(data=tuple(input_shape))
    return dict(zip(internals.list_outputs(), shapes, strict=True))


def _output_name(node: dict, index: int, known) -> str:
    """The name MXNet gives output ``index`` of a graph node (a variable: its own name)."""
    name = node["name"]
    if node["op"] == "null":
        return name
    return f"{name}_output" if f"{name}_output" in known else f"{name}_output{index}"


def fixed_size_resizes(symbol, input_shape: tuple):
    """``symbol`` with every ``BilinearResize2D(mode='like')`` turned into
    ``mode='size'`` at the size its 'like' input has for ``input_shape``."""
    graph = json.loads(symbol.tojson())
    shapes = None
    for node in graph["nodes"]:
        attrs = node.get("attrs", {})
        if node["op"] != "_contrib_BilinearResize2D" or attrs.get("mode") != "like":
            continue
        shapes = shapes or _output_shapes(symbol, input_shape)
        source, index = node["inputs"][1][0], node["inputs"][1][1]
        shape = shapes[_output_name(graph["nodes"][source], index, shapes)]
        attrs.update(mode="size", height=str(shape[2]), width=str(shape[3]))
        node["attrs"] = attrs
        node["inputs"] = node["inputs"][:1]
    return mx.sym.load_json(json.dumps(graph)) if shapes is not None else symbol


def explicit_split_reshapes(symbol, input_shape: tuple):
    """``symbol`` with each ``Reshape`` that splits an axis (``-4`` in its shape, which
    MXNet's converter refuses) given its output shape written out, where that shape is the
    same for ``input_shape`` and a larger image (R-CNN heads: a fixed count of regions of
    fixed size); reshapes whose output follows the image are left as they are."""
    graph = json.loads(symbol.tojson())
    wanted = [n for n in graph["nodes"] if n["op"] == "Reshape"
              and "-4" in n.get("attrs", {}).get("shape", "")]  # fmt: skip
    if not wanted:
        return symbol
    batch, channels, height, width = input_shape
    first = _output_shapes(symbol, input_shape)
    second = _output_shapes(symbol, (batch, channels, height + 64, width + 32))
    for node in wanted:
        key = _output_name(node, 0, first)
        if first[key] == second[key]:
            node["attrs"]["shape"] = str(tuple(int(v) for v in first[key]))
    return mx.sym.load_json(json.dumps(graph))


def _pool_size(text: str) -> tuple[int, int]:
    values = [int(v) for v in text.strip("()[] ").replace(" ", "").split(",") if v]
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _bins(length: int, count: int):
    """MXNet's adaptive-pooling bins: floor(i * L / n) to ceil((i + 1) * L / n)."""
    return [((i * length) // count, -((-(i + 1) * length) // count)) for i in range(count)]


def sliced_adaptive_pools(symbol, input_shape: tuple):
    """``symbol`` with every ``AdaptiveAvgPooling2D`` to more than 1 x 1 (which MXNet's
    converter refuses) written out, for ``input_shape``, as the mean of each bin's slice,
    concatenated: MXNet's own bins, so the same numbers (checked in tests)."""
    graph = json.loads(symbol.tojson())
    nodes = graph["nodes"]
    wanted = {k for k, n in enumerate(nodes) if n["op"] == "_contrib_AdaptiveAvgPooling2D"
              and _pool_size(n.get("attrs", {}).get("output_size", "1")) != (1, 1)}  # fmt: skip
    if not wanted:
        return symbol
    shapes = _output_shapes(symbol, input_shape)
    out, moved = [], {}

    def add(node) -> int:
        out.append(node)
        return len(out) - 1

    for k, node in enumerate(nodes):
        node = {**node, "inputs": [[moved[i], j, v] for i, j, v in node["inputs"]]}
        if k not in wanted:
            moved[k] = add(node)
            continue
        (source, index, _), name = nodes[k]["inputs"][0], node["name"]
        height, width = shapes[_output_name(nodes[source], index, shapes)][2:]
        rows_n, cols_n = _pool_size(node["attrs"]["output_size"])
        rows = []
        for r, (top, bottom) in enumerate(_bins(height, rows_n)):
            cells = []
            for c, (left, right) in enumerate(_bins(width, cols_n)):
                cut = add({"op": "slice", "name": f"{name}_slice{r}_{c}",
                           "attrs": {"begin": f"(None, None, {top}, {left})",
                                     "end": f"(None, None, {bottom}, {right})"},
                           "inputs": [node["inputs"][0]]})  # fmt: skip
                cells.append(add({"op": "mean", "name": f"{name}_mean{r}_{c}",
                                  "attrs": {"axis": "(2, 3)", "keepdims": "True"},
                                  "inputs": [[cut, 0, 0]]}))  # fmt: skip
            rows.append(cells[0] if len(cells) == 1 else add({
                "op": "Concat", "name": f"{name}_row{r}",
                "attrs": {"dim": "3", "num_args": str(len(cells))},
                "inputs": [[c, 0, 0] for c in cells]}))  # fmt: skip
        moved[k] = rows[0] if len(rows) == 1 else add({
            "op": "Concat", "name": name, "attrs": {"dim": "2", "num_args": str(len(rows))},
            "inputs": [[r, 0, 0] for r in rows]})  # fmt: skip
    graph["nodes"] = out
    graph["arg_nodes"] = [moved[i] for i in graph["arg_nodes"]]
    graph["heads"] = [[moved[i], j, v] for i, j, v in graph["heads"]]
    graph.pop("node_row_ptr", None)
    return mx.sym.load_json(json.dumps(graph))


def export_onnx(folder: Path, input_shape: tuple, path: Path | None = None,
                any_size: bool = False) -> Path:  # fmt: skip
    """Convert the exported symbol in ``folder`` to ``model.onnx`` (batch size dynamic;
    height and width too with ``any_size``), its 'like' resizes and adaptive pools written
    out for ``input_shape``; raises ``OnnxUnsupported`` naming the operator the converter
    cannot take."""
    folder = Path(folder)
    symbol, params = load_symbol(folder)
    symbol = sliced_adaptive_pools(fixed_size_resizes(symbol, input_shape), input_shape)
    symbol = explicit_split_reshapes(symbol, input_shape)
    missing = sorted(operators(symbol) - onnx_supported_ops())
    if missing:
        raise OnnxUnsupported(
            f"operator {missing[0]} has no ONNX conversion in MXNet "
            f"{mx.__version__}" + (f" (nor {', '.join(missing[1:])})" if missing[1:] else "")
        )
    try:
        model = tidy_graph(onnx_model_from_symbol(symbol, params, tuple(input_shape), any_size))
    except Exception as exc:  # noqa: BLE001 - the converter and onnx's checker raise anything
        reason = " ".join(str(exc).split())
        raise OnnxUnsupported(f"MXNet's ONNX converter stopped: {reason}") from None
    path = Path(path or folder / ONNX)
    with atomic_open(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


def tidy_graph(model):
    """The converted graph as any ONNX Runtime session takes it: every node named, uniquely
    (MXNet's converter leaves half of them unnamed, and ONNX Runtime 1.19's full optimisation
    level then fuses two Gather/Slice groups into nodes of one name and refuses the model),
    and no initializer that no node reads."""
    taken: set[str] = set()
    for index, node in enumerate(model.graph.node):
        name = node.name or (node.output[0] if node.output else f"{node.op_type}_{index}")
        while name in taken:
            name = f"{name}_{index}"
        node.name = name
        taken.add(name)
    read = _names_read(model.graph)
    unused = [init for init in model.graph.initializer if init.name not in read]
    for init in unused:
        model.graph.initializer.remove(init)
    return model


def _names_read(graph) -> set[str]:
    """Every value name ``graph``'s nodes (and the subgraphs of If / Loop nodes) read, and its
    outputs."""
    from onnx import AttributeProto

    read = {output.name for output in graph.output}
    for node in graph.node:
        read.update(node.input)
        for attribute in node.attribute:
            if attribute.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
                for subgraph in [attribute.g, *attribute.graphs]:
                    read |= _names_read(subgraph)
    return read


def max_differences(reference: list[np.ndarray], other: list[np.ndarray]) -> list[float]:
    """Largest absolute difference per output (inf where the shapes differ)."""
    found = []
    for ref, out in zip(reference, other, strict=True):
        if ref.shape != out.shape:
            found.append(float("inf"))
        elif ref.size == 0:
            found.append(0.0)
        else:
            with np.errstate(invalid="ignore"):  # inf - inf where both overflowed alike
                gap = np.abs(ref.astype(np.float64) - out)
            gap[(ref == out) | (np.isnan(ref) & np.isnan(out))] = 0
            found.append(float(np.nanmax(gap)) if np.isfinite(gap).all() else float("inf"))
    return found
