"""Ways to run a network on a batch: the Gluon block of a checkpoint, an exported MXNet symbol
or an ONNX model. Each takes an N x C x H x W float32 array and returns the network's outputs
as NumPy arrays, and lets one thread at a time use its network (MXNet's executors are not
thread-safe; one lock also keeps ONNX Runtime from oversubscribing the cores)."""

from __future__ import annotations

import threading
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.engine.export import INT8, ONNX, PARAMS, SYMBOL


class Runner:
    name = "runner"

    def __init__(self):
        self._lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            return self._run(np.ascontiguousarray(batch, dtype=np.float32))

    def _run(self, batch):  # pragma: no cover - every runner overrides it
        raise NotImplementedError


def _as_list(outputs) -> list[np.ndarray]:
    if isinstance(outputs, (list, tuple)):
        return [o.asnumpy() for o in outputs]
    return [outputs.asnumpy()]


class GluonRunner(Runner):
    """A Gluon block (hybridized) on ``ctx``."""

    name = "gluon"

    def __init__(self, block: mx.gluon.HybridBlock, ctx=None):
        super().__init__()
        self.block, self.ctx = block, ctx or mx.cpu()

    def _run(self, batch):
        with mx.autograd.predict_mode():
            return _as_list(self.block(mx.nd.array(batch, ctx=self.ctx)))


class SymbolRunner(Runner):
    """``model-symbol.json`` + ``model-0000.params`` through ``gluon.SymbolBlock.imports``."""

    name = "symbol"

    def __init__(self, folder: Path, ctx=None):
        super().__init__()
        self.ctx = ctx or mx.cpu()
        folder = Path(folder)
        self.block = mx.gluon.SymbolBlock.imports(
            str(folder / SYMBOL), ["data"], str(folder / PARAMS), ctx=self.ctx
        )
        self.block.hybridize(static_alloc=True)

    def _run(self, batch):
        return _as_list(self.block(mx.nd.array(batch, ctx=self.ctx)))


class OnnxRunner(Runner):
    """``model.onnx`` in ONNX Runtime on the CPU, in the session a user of the file alone
    makes: ``InferenceSession(path)`` with the default options (the full optimisation level),
    or only the thread count changed."""

    name = "onnx"

    def __init__(self, path: Path, threads: int | None = None):
        super().__init__()
        import onnxruntime as ort

        path = Path(path)
        path = path / ONNX if path.is_dir() else path
        options = None
        if threads:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own Fail type
            raise RuntimeError(f"{path}: ONNX Runtime cannot load it: {exc}") from None
        self.input = self.session.get_inputs()[0].name
        if path.name == INT8:
            self.name = "onnx-int8"

    def _run(self, batch):
        return self.session.run(None, {self.input: batch})
