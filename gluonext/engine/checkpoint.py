"""Checkpoints and the run folder's commit protocol.

A checkpoint is one ``.ckpt`` file: a NumPy ``.npz`` archive holding the weights (BatchNorm
running statistics included), the trainer's optimizer state (momentum, update count, and so
the LR schedule position) and the run's ``meta`` (epoch, best score, flags, the per-epoch
metric history) as JSON. It is read with ``allow_pickle=False``; the optimizer state, which
MXNet serialises with pickle, is first checked opcode by opcode to name nothing but MXNet
NDArrays, optimizers and LR schedules, so opening an untrusted file runs no code. Files of the
older pickle format still load (through the same restricted reader), with a notice.

An epoch is committed in this order (``save_epoch``): a new best checkpoint and its
``.params`` go to pending names, ``checkpoint_last.ckpt`` replaces the old one (the commit
point), the pending best files are renamed into place, and ``metrics.jsonl`` and its plot are
rewritten from the history inside the checkpoint. ``settle_run_dir``, run at every start,
finishes or discards what a kill left half done, so the folder always agrees with its last
checkpoint. Both ``checkpoint_last`` and ``checkpoint_best`` carry the trainer state:
``--resume`` from either continues exactly; a checkpoint without it is refused by
``--resume`` and taken by ``--init-from`` (its weights, a new schedule).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.faults import kill_point, set_stage
from gluonext.common.files import atomic_open, remove_stale_temporaries
from gluonext.common.plots import plot_curves
from gluonext.engine.compat import load_param_value, structural_params
from gluonext.errors import CheckpointError, OutputError

FORMAT = "gluonext-checkpoint-2"
LEGACY_FORMAT = "gluonext-checkpoint-1"
LAST, BEST, BEST_PARAMS = "checkpoint_last.ckpt", "checkpoint_best.ckpt", "model_best.params"
PENDING = ".pending_"  # prefix of a best checkpoint written before its epoch is committed
log = logging.getLogger(__name__)


def _weights(net: mx.gluon.Block) -> dict[str, np.ndarray]:
    return {name: p.data(p.list_ctx()[0]).asnumpy() for name, p in structural_params(net).items()}


def _trainer_states(trainer: mx.gluon.Trainer) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        trainer.save_states(os.path.join(tmp, "states"))
        return Path(tmp, "states").read_bytes()


def save_checkpoint(
    path: str | os.PathLike, net: mx.gluon.Block, trainer: mx.gluon.Trainer | None, meta: dict
) -> Path:
    """Write ``path`` atomically: weights, trainer states (if any) and ``meta`` (JSON)."""
    arrays = {f"weights/{name}": value for name, value in _weights(net).items()}
    arrays["format"] = np.array(FORMAT)
    arrays["meta"] = np.frombuffer(json.dumps(meta, default=str).encode(), np.uint8)
    if trainer is not None:
        arrays["trainer"] = np.frombuffer(_trainer_states(trainer), np.uint8)
    try:
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the checkpoint ({exc.strerror or exc})") from None
    return Path(path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """``{"format", "weights": {name: array}, "trainer": bytes or None, "meta": dict}``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(b"PK"):
        return _read_npz(path)
    return _read_legacy(path)


def read_meta(path: str | os.PathLike) -> dict:
    """A checkpoint's ``meta`` alone: only that part of the file is read (older pickle
    checkpoints are read whole)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    with open(path, "rb") as handle:
        if not handle.read(4).startswith(b"PK"):
            return _read_legacy(path)["meta"]
    with _archive(path) as archive:
        return json.loads(archive["meta"].tobytes().decode())


@contextlib.contextmanager
def _archive(path: Path):
    """The checkpoint's npz, opened without pickles; any failure to read it is one
    ``CheckpointError`` naming the file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "format" not in archive.files or str(archive["format"]) != FORMAT:
                raise CheckpointError(f"{path}: not a gluonext checkpoint")
            yield archive
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({exc.__class__.__name__})"
        ) from None


def _read_npz(path: Path) -> dict:
    with _archive(path) as archive:
        prefix = "weights/"
        weights = {k[len(prefix) :]: archive[k] for k in archive.files if k.startswith(prefix)}
        meta = json.loads(archive["meta"].tobytes().decode())
        trainer = archive["trainer"].tobytes() if "trainer" in archive.files else None
    if trainer is not None:
        check_trainer_states(trainer, path)
    return {"format": FORMAT, "weights": weights, "trainer": trainer, "meta": meta}


# what a pickle inside a checkpoint may name: plain containers, NumPy arrays, MXNet NDArrays,
# optimizers and LR schedules (their classes are checked by subclass below), paths in meta
_SAFE_GLOBALS = {
    ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "slice"), ("builtins", "complex"),
    ("collections", "OrderedDict"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("mxnet.ndarray.ndarray", "NDArray"),
    ("pathlib", "PosixPath"), ("pathlib", "PurePosixPath"),
    ("argparse", "Namespace"),
}  # fmt: skip


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module.split(".")[0] in ("mxnet", "gluonext"):
            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(
                found, (mx.optimizer.Optimizer, mx.lr_scheduler.LRScheduler)
            ):
                return found
        raise pickle.UnpicklingError(f"refers to {module}.{name}, which a checkpoint never holds")


def _restricted_loads(data: bytes):
    return _RestrictedUnpickler(io.BytesIO(data)).load()


def check_trainer_states(data: bytes, path) -> None:
    """Refuse optimizer state that names anything but what MXNet's Trainer writes."""
    try:
        _restricted_loads(data)
    except Exception as exc:  # noqa: BLE001 - any failure means an unusable state blob
        raise CheckpointError(f"{path}: optimizer state refused ({exc})") from None


def _read_legacy(path: Path) -> dict:
    try:
        with open(path, "rb") as handle:
            payload = _restricted_loads(handle.read())
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({exc.__class__.__name__}: {exc})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != LEGACY_FORMAT:
        raise CheckpointError(
            f"{path}: not a gluonext checkpoint (plain .params files go to "
            "--pretrained-base or GluonCV's load_parameters)"
        )
    if payload.get("trainer") is not None:
        check_trainer_states(payload["trainer"], path)
    log.warning("%s: older pickle checkpoint format, read with a restricted loader", path)
    return {**payload, "format": LEGACY_FORMAT}


def load_checkpoint(
    path: str | os.PathLike, net: mx.gluon.Block, trainer: mx.gluon.Trainer | None = None
) -> dict:
    """Restore weights (and, given ``trainer``, its states) from ``path``; returns ``meta``."""
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        net.save_parameters(str(tmp))
        kill_point(f"write {path.name}")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def save_epoch(save_dir, net, trainer, meta: dict, is_best: bool, title: str = "training") -> None:
    """Commit an epoch: pending best files, then ``checkpoint_last`` (the commit point), then
    the best files renamed into place and ``metrics.jsonl`` / ``metrics.png`` rewritten from
    ``meta["history"]``."""
    save_dir = Path(save_dir)
    if is_best:
        save_checkpoint(save_dir / f"{PENDING}{BEST}", net, trainer, meta)
        export_params(save_dir / f"{PENDING}{BEST_PARAMS}", net)
    save_checkpoint(save_dir / LAST, net, trainer, meta)
    kill_point("epoch committed")
    settle_run_dir(save_dir, title)


def keep_epoch_copy(save_dir, epoch: int, keep: int) -> Path:
    """``--save-interval``: ``checkpoint_epochNNNN.ckpt``, a copy of the epoch's committed
    ``checkpoint_last.ckpt`` (so ``--resume`` takes it), written atomically; only the newest
    ``keep`` such copies stay."""
    import shutil

    save_dir = Path(save_dir)
    target = save_dir / f"checkpoint_epoch{epoch:04d}.ckpt"
    with atomic_open(target, "wb") as out, open(save_dir / LAST, "rb") as source:
        shutil.copyfileobj(source, out)
    _keep_newest(save_dir, "checkpoint_epoch[0-9][0-9][0-9][0-9].ckpt", keep)
    return target


def _keep_newest(save_dir: Path, pattern: str, keep: int) -> None:
    """Delete all but the ``keep`` last (by their zero-padded number) files of ``pattern``."""
    for old in sorted(save_dir.glob(pattern))[:-keep]:
        old.unlink()


ITERATION_CHECKPOINT = "checkpoint_iter{step:07d}.ckpt"


def save_iteration_checkpoint(save_dir, net, trainer, meta: dict, step: int, keep: int) -> Path:
    """``--checkpoint-iters``: the state after global iteration ``step``, mid-epoch (``meta``
    has the last whole epoch and ``resume_iteration``, the batches of the next one done),
    written atomically; only the newest ``keep`` stay."""
    save_dir = Path(save_dir)
    target = save_dir / ITERATION_CHECKPOINT.format(step=step)
    save_checkpoint(target, net, trainer, meta)
    _keep_newest(save_dir, "checkpoint_iter[0-9]*.ckpt", keep)
    return target


def settle_run_dir(save_dir, title: str = "training") -> dict | None:
    """Bring the run folder in line with its ``checkpoint_last``: promote or discard pending
    best files, rewrite ``metrics.jsonl`` and the plot from the checkpoint's history, remove
    temporary files a killed writer left. Returns the last checkpoint's meta (None if none)."""
    save_dir = Path(save_dir)
    if not save_dir.is_dir():
        return None
    remove_stale_temporaries(save_dir)
    last = save_dir / LAST
    meta = read_meta(last) if last.is_file() else None
    best_epoch = (meta or {}).get("best", {}).get("epoch")
    pending = save_dir / f"{PENDING}{BEST}"
    if pending.is_file():
        if meta is not None and read_meta(pending).get("epoch") == best_epoch:
            pending_params = save_dir / f"{PENDING}{BEST_PARAMS}"
            if pending_params.is_file():
                os.replace(pending_params, save_dir / BEST_PARAMS)
                kill_point("best params promoted")
            os.replace(pending, save_dir / BEST)
            kill_point("best promoted")
        else:
            pending.unlink()
    stray = save_dir / f"{PENDING}{BEST_PARAMS}"
    if stray.is_file() and not pending.is_file():
        stray.unlink()
    if meta is not None and "history" in meta:
        write_metrics(save_dir / "metrics.jsonl", meta["history"], title)
    return meta


def write_metrics(path: Path, history: list[dict], title: str) -> None:
    """``metrics.jsonl`` (one line per epoch) and ``metrics.png``, each written atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for row in history:
            handle.write(json.dumps(row) + "\n")
    kill_point("metrics written")
    if history:
        plot_curves(history, path.with_suffix(".png"), title)


def resume_run(path, net, trainer, save_dir, best: dict, writes: bool = True):
    """``--resume``: weights and optimizer state from ``path`` (which must have the latter);
    the run folder is rewound to it (its ``checkpoint_last`` and metrics). Returns (first epoch
    to train, best so far, metric history). Only the rank that ``writes`` touches the folder."""
    set_stage("resume")
    payload = read_checkpoint(path)
    if payload["trainer"] is None:
        raise CheckpointError(
            f"{path}: has no optimizer state, so --resume cannot continue it exactly; use "
            "--init-from to start a new schedule from its weights"
        )
    meta = load_checkpoint(path, net, trainer)
    history = [r for r in meta.get("history", []) if r.get("epoch", 0) <= meta["epoch"]]
    meta = {**meta, "history": history}
    if writes and Path(path).resolve() != (Path(save_dir) / LAST).resolve():
        save_checkpoint(Path(save_dir) / LAST, net, trainer, meta)
    if writes:
        settle_run_dir(save_dir)
    done = int(meta.get("resume_iteration", 0))
    if done:
        log.info("resumed from %s in epoch %d after %d iteration(s)", path, meta["epoch"] + 1,
                 done)  # fmt: skip
    else:
        log.info("resumed from %s at epoch %d", path, meta["epoch"])
    return meta["epoch"] + 1, meta.get("best", best), history


def init_from(path, net) -> dict:
    """``--init-from``: the weights of any checkpoint, for a new schedule from epoch 1."""
    meta = load_checkpoint(path, net)
    log.info("weights from %s (epoch %s); new schedule", path, meta.get("epoch"))
    return meta


def continue_or_start(args, net, trainer, save_dir, best: dict, writes: bool = True):
    """``--resume`` (exact continuation), ``--init-from`` (weights only, a new schedule) or a
    fresh start: returns (first epoch, best so far, metric history)."""
    if args.resume and getattr(args, "init_from", None):
        raise CheckpointError("give --resume CKPT or --init-from CKPT, not both")
    start_epoch = getattr(args, "start_epoch", None)
    if start_epoch is not None and not args.resume:
        raise CheckpointError(f"--start-epoch {start_epoch}: give the checkpoint with --resume")
    if args.resume:
        ended = read_meta(args.resume)["epoch"]
        if start_epoch is not None and start_epoch != ended + 1:
            raise CheckpointError(
                f"--start-epoch {start_epoch}: {args.resume} ends at epoch {ended}, so "
                f"training continues at {ended + 1}"
            )
        first, best, history = resume_run(args.resume, net, trainer, save_dir, best, writes)
        args.resume_skip = (first, int(read_meta(args.resume).get("resume_iteration", 0)))
        return first, best, history
    if getattr(args, "init_from", None):
        init_from(args.init_from, net)
    return 1, best, []


def load_for_eval(args, net) -> dict:
    """``--eval``: the weights of ``--resume CKPT`` (required); returns its ``meta``."""
    if not args.resume:
        raise CheckpointError("--eval needs --resume CKPT (the weights to evaluate)")
    return load_checkpoint(args.resume, net)


def batches_to_skip(args, epoch: int) -> int:
    """Batches of ``epoch`` a mid-epoch ``--resume`` has already trained (0 otherwise)."""
    first, done = getattr(args, "resume_skip", (0, 0))
    return done if epoch == first else 0
