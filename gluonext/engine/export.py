"""A Gluon network as files a user can load without gluonext: an MXNet symbol with its
parameters (``gluon.SymbolBlock.imports``) and an ONNX model (ONNX Runtime).

Networks here resize with ``BilinearResize2D(mode='like')`` so that one network serves every
input size; MXNet's ONNX converter refuses that mode. ``fixed_size_resizes`` rewrites each
such resize, for one input size, into the same operator with its output size written out
(``mode='size'``, the height and width that the 'like' input has at that size): the same
computation, which the converter accepts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.files import atomic_open
from gluonext.engine.compat import onnx_model_from_symbol, onnx_supported_ops
from gluonext.errors import ModelError

PREFIX = "model"
SYMBOL, PARAMS, ONNX = f"{PREFIX}-symbol.json", f"{PREFIX}-0000.params", f"{PREFIX}.onnx"


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


def export_onnx(folder: Path, input_shape: tuple, path: Path | None = None, block=None,
                any_size: bool = False) -> Path:  # fmt: skip
    """Convert the exported symbol in ``folder`` (or ``block``, exported for it first) to
    ``model.onnx`` (batch size dynamic; height and width too with ``any_size``); raises
    ``OnnxUnsupported`` naming the operator the converter cannot take."""
    folder = Path(folder)
    if block is not None:
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            export_symbol(block, input_shape, Path(tmp))
            symbol, params = load_symbol(Path(tmp))
    else:
        symbol, params = load_symbol(folder)
    symbol = fixed_size_resizes(symbol, input_shape)
    missing = sorted(operators(symbol) - onnx_supported_ops())
    if missing:
        raise OnnxUnsupported(
            f"operator {missing[0]} has no ONNX conversion in MXNet "
            f"{mx.__version__}" + (f" (nor {', '.join(missing[1:])})" if missing[1:] else "")
        )
    try:
        model = onnx_model_from_symbol(symbol, params, tuple(input_shape), any_size)
    except Exception as exc:  # noqa: BLE001 - the converter and onnx's checker raise anything
        reason = " ".join(str(exc).split())
        raise OnnxUnsupported(f"MXNet's ONNX converter stopped: {reason}") from None
    path = Path(path or folder / ONNX)
    with atomic_open(path, "wb") as handle:
        handle.write(model.SerializeToString())
    return path


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
