"""The epoch loop every training script runs: train, average statistics, validate, commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mxnet as mx

from gluonext.common.faults import kill_point, set_stage
from gluonext.engine.checkpoint import keep_epoch_copy, save_epoch, save_iteration_checkpoint
from gluonext.engine.devices import Parallel, average_running_stats

log = logging.getLogger(__name__)


def is_validation_epoch(args, epoch: int) -> bool:
    """``--val-interval`` epochs and the last one, unless ``--no-val``."""
    return not args.no_val and (epoch % args.val_interval == 0 or epoch == args.epochs)


def fit(
    args,
    net: mx.gluon.Block,
    trainer: mx.gluon.Trainer,
    parallel: Parallel,
    *,
    save_dir: Path,
    history: list[dict],
    title: str,
    start_epoch: int,
    best: dict,
    train_epoch: Callable[[int], dict],
    validate: Callable[[int], tuple[dict, float | None]],
    meta: dict,
    describe: Callable[[dict], str],
    lower_is_better: bool = False,
    baseline: dict | None = None,
    monitor=None,
    preview: Callable[[int], list] | None = None,
) -> dict:
    """Epochs ``start_epoch .. args.epochs``; returns the best ``{metric: value, "epoch": e}``.

    Each epoch: MXNet's generator seeded by (seed, epoch) so a resumed run draws the same,
    ``train_epoch(epoch)`` (a record of losses, speed, lr), BatchNorm statistics averaged over
    devices and workers, then on rank 0 only ``validate(epoch)`` on validation epochs (record
    entries and the score ``best`` is kept by, or None), then the epoch is committed: checkpoint
    (``meta`` plus epoch, best and the metric ``history``), best files, ``metrics.jsonl`` and
    its plot (``title``), and a log line from ``describe(record)``. ``baseline`` entries
    (``baseline_<metric>``: the image-blind score) go into every record.
    """
    metric = next(key for key in best if key != "epoch")
    if getattr(args, "no_wd", False):
        count = exclude_from_weight_decay(net)
        log.info("--no-wd: no weight decay on %d BatchNorm / bias parameters", count)
    if monitor is not None and parallel.is_main and getattr(args, "checkpoint_iters", None):

        def save_mid_epoch(epoch, done, step):
            state = {"epoch": epoch - 1, "best": best, "history": history, **meta,
                     "resume_iteration": done}  # fmt: skip
            save_iteration_checkpoint(save_dir, net, trainer, state, step, args.keep_checkpoints)

        monitor.save = save_mid_epoch
    for epoch in range(start_epoch, args.epochs + 1):
        set_stage(f"epoch {epoch}")
        kill_point("started")
        mx.random.seed(args.seed * 1000 + epoch)
        record = {"epoch": epoch, **train_epoch(epoch), **(baseline or {})}
        average_running_stats(net, parallel)
        if not parallel.is_main:
            continue
        if is_validation_epoch(args, epoch):
            entries, score = validate(epoch)
            record.update(entries)
            if score is not None and _better(score, best[metric], lower_is_better):
                best = {metric: score, "epoch": epoch}
            if monitor is not None and preview is not None:
                monitor.pictures(epoch, preview(epoch))
        history = [*history, record]
        epoch_meta = {"epoch": epoch, "best": best, "history": history, **meta}
        save_epoch(save_dir, net, trainer, epoch_meta, best["epoch"] == epoch, title)
        interval = getattr(args, "save_interval", None)
        if interval and epoch % interval == 0:
            keep_epoch_copy(save_dir, epoch, args.keep_checkpoints)
        log.info(describe(record))
        if monitor is not None:
            monitor.epoch(record)
    if monitor is not None:
        monitor.close()
    return best


def exclude_from_weight_decay(net: mx.gluon.Block) -> int:
    """GluonCV's ``--no-wd``: weight decay multiplier 0 for BatchNorm's gamma / beta and every
    bias (the optimizer reads ``wd_mult`` at each update). Returns how many parameters."""
    chosen = net.collect_params(".*beta|.*gamma|.*bias")
    chosen.setattr("wd_mult", 0.0)
    return len(list(chosen.keys()))


def _better(score: float, best: float, lower_is_better: bool) -> bool:
    return score < best if lower_is_better else score > best
