"""Training curves: every numeric per-epoch metric of a metrics.jsonl, as a PNG; the
image-blind baseline (``baseline_<metric>``) as a dashed line beside its metric."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

BASELINE = "baseline_"  # metrics.jsonl keys of the image-blind baseline, drawn dashed


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def plot_curves(records: list[dict], path: str | os.PathLike, title: str = "training") -> Path:
    """Plot every numeric per-epoch metric of ``records`` (JSON-lines rows) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from gluonext.common.files import atomic_open

    keys = sorted(
        {
            k
            for r in records
            for k, v in r.items()
            if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
    )
    losses = [k for k in keys if "loss" in k]
    scores = [k for k in keys if k not in losses and k not in ("lr", "seconds", "img_per_s")]
    panels = [
        ("loss", losses),
        ("score", scores),
        ("learning rate", ["lr"] if "lr" in keys else []),
    ]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5 * max(1, len(panels)), 3.6))
    axes = np.atleast_1d(axes)
    for ax, (name, panel_keys) in zip(axes, panels, strict=False):
        colours = {}
        for key in sorted(panel_keys, key=lambda k: k.startswith(BASELINE)):
            points = [(r["epoch"], r[key]) for r in records if key in r]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            if key.startswith(BASELINE):  # what label statistics alone score: dashed
                colour = colours.get(key[len(BASELINE) :])
                ax.plot(xs, ys, linestyle="--", color=colour, label=f"{key} (image-blind)")
            else:
                (line,) = ax.plot(xs, ys, marker="o", label=key)
                colours[key] = line.get_color()
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=90)
    plt.close(fig)
    return path
