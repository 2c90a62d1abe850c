"""Following a run: the NaN guard (metrics.jsonl and its curves are committed with each
epoch's checkpoint, ``gluonext.engine.checkpoint``)."""

from __future__ import annotations

import math

from gluonext.errors import TrainingDiverged


def check_finite(loss: float, epoch: int, iteration: int) -> float:
    """Stop with a clear message when the loss is not a finite number."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"loss is {loss} at epoch {epoch}, iteration {iteration}: training diverged. "
            "Lower --lr, warm up for longer, or check the data."
        )
    return loss
