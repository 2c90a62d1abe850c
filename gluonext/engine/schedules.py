"""Learning-rate schedules as pure functions of the update count (so resume is exact)."""

from __future__ import annotations

import mxnet as mx


class WarmupSchedule(mx.lr_scheduler.LRScheduler):
    """Linear warmup from ``warmup_factor * base_lr``, then poly or step decay.

    ``mode='poly'``: ``base_lr * (1 - t / T) ** power`` (GluonCV's segmentation recipe, power 0.9).
    ``mode='step'``: ``base_lr * factor ** (number of steps passed)`` (detection / pose recipes).
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
        if mode not in ("poly", "step", "constant"):
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
