"""Following a run: the NaN guard, the per-epoch metrics log and its curves."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from gluonext.common.files import atomic_open
from gluonext.common.plots import plot_curves
from gluonext.errors import TrainingDiverged


def check_finite(loss: float, epoch: int, iteration: int) -> float:
    """Stop with a clear message when the loss is not a finite number."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"loss is {loss} at epoch {epoch}, iteration {iteration}: training diverged. "
            "Lower --lr, warm up for longer, or check the data."
        )
    return loss


class MetricsLog:
    """Per-epoch records in a JSON-lines file (rewritten atomically) and a curves PNG."""

    def __init__(self, path: str | os.PathLike, title: str = "training"):
        self.path = Path(path)
        self.title = title
        self.records: list[dict] = []
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as handle:
                self.records = [json.loads(line) for line in handle if line.strip()]

    def truncate(self, last_epoch: int) -> None:
        """Forget epochs after ``last_epoch`` (a resumed run redoes them)."""
        self.records = [r for r in self.records if r.get("epoch", 0) <= last_epoch]

    def append(self, record: dict) -> None:
        self.records.append(record)
        with atomic_open(self.path, "w", encoding="utf-8") as handle:
            for row in self.records:
                handle.write(json.dumps(row) + "\n")
        plot_curves(self.records, self.path.with_suffix(".png"), self.title)
