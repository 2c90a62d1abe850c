"""Learning-rate schedules as pure functions of the update count (so resume is exact)."""

from __future__ import annotations

import math

import mxnet as mx


class WarmupSchedule(mx.lr_scheduler.LRScheduler):
    """Linear warmup from ``warmup_factor * base_lr``, then poly or step decay.

    ``mode='poly'``: ``base_lr * (1 - t / T) ** power`` (GluonCV's segmentation recipe, power 0.9).
    ``mode='step'``: ``base_lr * factor ** (number of steps passed)`` (detection / pose recipes).
    ``mode='cosine'``: half a cosine from ``base_lr`` down to ``target_lr`` (GluonCV's option).
    """

    def __init__(
        self,
        base_lr: float,
        total_iters: int,
        warmup_iters: int = 0,
        mode: str = "poly",
        power: float = 0.9,
        steps: tuple[int, ...] = (),
        factor: float = 0.1,
        warmup_factor: float = 0.1,
        target_lr: float = 0.0,
    ):
        super().__init__(base_lr=base_lr)
        if mode not in ("poly", "step", "cosine", "constant"):
            raise ValueError(f"unknown schedule mode {mode!r}")
        self.total_iters, self.warmup_iters = max(1, total_iters), warmup_iters
        self.mode, self.power, self.steps, self.factor = mode, power, tuple(steps), factor
        self.warmup_factor, self.target_lr = warmup_factor, target_lr

    def __call__(self, num_update: int) -> float:
        t = num_update
        if t < self.warmup_iters:
            start = self.base_lr * self.warmup_factor
            return start + (self.base_lr - start) * t / self.warmup_iters
        if self.mode == "poly":
            span = max(1, self.total_iters - self.warmup_iters)
            progress = min(1.0, (t - self.warmup_iters) / span)
            return self.target_lr + (self.base_lr - self.target_lr) * (1 - progress) ** self.power
        if self.mode == "cosine":
            span = max(1, self.total_iters - self.warmup_iters)
            progress = min(1.0, (t - self.warmup_iters) / span)
            return (
                self.target_lr
                + (self.base_lr - self.target_lr) * (1 + math.cos(math.pi * progress)) / 2
            )
        if self.mode == "step":
            return self.base_lr * self.factor ** sum(t >= s for s in self.steps)
        return self.base_lr


def step_schedule(
    lr: float,
    epochs: int,
    iters_per_epoch: int,
    warmup_iters: int,
    decay_epochs,
    factor: float = 0.1,
    warmup_factor: float = 0.0,
) -> WarmupSchedule:
    """GluonCV's detection / pose schedule: linear warmup, then ``lr * factor`` at each of
    ``decay_epochs`` (fractions allowed), counted in iterations."""
    return WarmupSchedule(
        lr,
        epochs * iters_per_epoch,
        warmup_iters,
        mode="step",
        steps=tuple(int(e * iters_per_epoch) for e in decay_epochs),
        factor=factor,
        warmup_factor=warmup_factor,
    )


def schedule_from_args(args, lr: float, iters_per_epoch: int, default_mode: str,
                       warmup_factor: float, warmup_epochs: float, decay_epochs=(),
                       decay: float = 0.1) -> WarmupSchedule:  # fmt: skip
    """The recipe's schedule, changed by GluonCV's flags where given: ``--lr-mode
    step|poly|cosine``, ``--lr-power`` (poly), ``--lr-decay-period`` (step every N epochs
    instead of at ``decay_epochs``), ``--warmup-lr`` (the warmup's first LR)."""
    mode = getattr(args, "lr_mode", None) or default_mode
    warmup = int(warmup_epochs * iters_per_epoch)
    warmup_lr = getattr(args, "warmup_lr", None)
    if warmup_lr is not None:
        warmup_factor = warmup_lr / lr
    period = getattr(args, "lr_decay_period", None)
    if period:
        decay_epochs = tuple(range(period, args.epochs, period))
    return WarmupSchedule(
        lr,
        args.epochs * iters_per_epoch,
        warmup,
        mode=mode,
        power=getattr(args, "lr_power", None) or 0.9,
        steps=tuple(int(e * iters_per_epoch) for e in decay_epochs),
        factor=decay,
        warmup_factor=warmup_factor,
    )
