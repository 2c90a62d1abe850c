"""Checkpoints: one file holding weights, optimizer state and progress, written atomically.

``save_checkpoint`` / ``load_checkpoint`` make ``--resume`` exact: weights (BatchNorm running
statistics included), the trainer's optimizer state (momentum, update count, and so the LR
schedule position) and the epoch counters. ``export_params`` writes plain Gluon ``.params``
that GluonCV's ``load_parameters`` reads.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.files import atomic_open
from gluonext.engine.compat import load_param_value, structural_params
from gluonext.errors import CheckpointError

FORMAT = "gluonext-checkpoint-1"


def _weights(net: mx.gluon.Block) -> dict[str, np.ndarray]:
    return {name: p.data(p.list_ctx()[0]).asnumpy() for name, p in structural_params(net).items()}


def save_checkpoint(
    path: str | os.PathLike, net: mx.gluon.Block, trainer: mx.gluon.Trainer | None, meta: dict
) -> Path:
    """Write ``path`` atomically: weights, trainer states (if any) and ``meta``."""
    states = None
    if trainer is not None:
        with tempfile.TemporaryDirectory() as tmp:
            trainer.save_states(os.path.join(tmp, "states"))
            states = Path(tmp, "states").read_bytes()
    payload = {"format": FORMAT, "weights": _weights(net), "trainer": states, "meta": meta}
    with atomic_open(path, "wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({exc.__class__.__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a gluonext checkpoint (plain .params files go to "
            "--pretrained-base or GluonCV's load_parameters)"
        )
    return payload


def load_checkpoint(
    path: str | os.PathLike, net: mx.gluon.Block, trainer: mx.gluon.Trainer | None = None
) -> dict:
    """Restore weights (and trainer states) from ``path``; returns its ``meta``."""
    payload = read_checkpoint(path)
    params = structural_params(net)
    weights = payload["weights"]
    missing = sorted(set(params) - set(weights))
    unexpected = sorted(set(weights) - set(params))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: does not fit this network (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}): were --model/--backbone/--dataset the same?"
        )
    for name, param in params.items():
        value = weights[name]
        if param.shape is not None and tuple(param.shape) != value.shape and 0 not in param.shape:
            raise CheckpointError(
                f"{path}: {name} has shape {value.shape}, network wants "
                f"{param.shape} (different number of classes?)"
            )
        load_param_value(param, mx.nd.array(value, dtype=value.dtype))
    if trainer is not None and payload["trainer"] is not None:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "states").write_bytes(payload["trainer"])
            trainer.load_states(os.path.join(tmp, "states"))
    return payload["meta"]


def export_params(path: str | os.PathLike, net: mx.gluon.Block) -> Path:
    """Plain Gluon ``.params`` (readable by ``net.load_parameters``), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    net.save_parameters(str(tmp))
    os.replace(tmp, path)
    return path


def save_epoch(save_dir, net, trainer, meta: dict, is_best: bool) -> None:
    """End-of-epoch outputs: ``checkpoint_last.ckpt`` (with optimizer state) and, for a new
    best, ``checkpoint_best.ckpt`` and ``model_best.params``."""
    save_dir = Path(save_dir)
    save_checkpoint(save_dir / "checkpoint_last.ckpt", net, trainer, meta)
    if is_best:
        save_checkpoint(save_dir / "checkpoint_best.ckpt", net, None, meta)
        export_params(save_dir / "model_best.params", net)


def resume_run(path, net, trainer, metrics, best: dict) -> tuple[int, dict]:
    """``--resume``: weights and optimizer state from ``path``, ``metrics.jsonl`` cut back to
    its epoch; returns (first epoch to train, best so far)."""
    meta = load_checkpoint(path, net, trainer)
    metrics.truncate(meta["epoch"])
    logging.getLogger(__name__).info("resumed from %s at epoch %d", path, meta["epoch"])
    return meta["epoch"] + 1, meta.get("best", best)


def load_for_eval(args, net) -> dict:
    """``--eval``: the weights of ``--resume CKPT`` (required); returns its ``meta``."""
    if not args.resume:
        raise CheckpointError("--eval needs --resume CKPT (the weights to evaluate)")
    return load_checkpoint(args.resume, net)
