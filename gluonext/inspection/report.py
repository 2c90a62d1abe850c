"""The inspector's pictures and tables: a contact sheet of annotated images, objects per class
and split (a table and a bar chart) and the objects' sizes per split (a histogram)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from gluonext.common.files import atomic_open


def class_counts(splits: dict) -> dict[str, Counter]:
    """Split name -> objects per class (for parsing: images showing the class)."""
    return {split: Counter(label for item in items for label, _ in item.objects)
            for split, items in splits.items()}  # fmt: skip


def counts_table(counts: dict[str, Counter], images: dict[str, int]) -> str:
    """A plain-text table: one row per class, one column per split and the total."""
    names = sorted(set().union(*counts.values()))
    splits = list(counts)
    width = max([len(n) for n in names] + [6])
    header = f"{'class':<{width}}" + "".join(f"{s:>9}" for s in [*splits, "total"])
    rows = [header]
    for name in names:
        values = [counts[s][name] for s in splits]
        rows.append(f"{name:<{width}}" + "".join(f"{v:>9}" for v in [*values, sum(values)]))
    totals = [images[s] for s in splits]
    rows.append(f"{'images':<{width}}" + "".join(f"{v:>9}" for v in [*totals, sum(totals)]))
    return "\n".join(rows)


def write_counts_csv(path: Path, counts: dict[str, Counter]) -> None:
    names = sorted(set().union(*counts.values()))
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", *counts])
        writer.writerows([name, *(counts[s][name] for s in counts)] for name in names)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, bbox_inches="tight")


def bar_chart(path: Path, counts: dict[str, Counter], unit: str) -> None:
    """Objects per class, one bar per split side by side."""
    plt = _figure()
    names = sorted(set().union(*counts.values()))
    figure, axes = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 4))
    width = 0.8 / max(1, len(counts))
    for k, (split, counter) in enumerate(counts.items()):
        axes.bar(np.arange(len(names)) + k * width, [counter[n] for n in names], width,
                 label=split)  # fmt: skip
    axes.set_xticks(np.arange(len(names)) + width * (len(counts) - 1) / 2)
    axes.set_xticklabels(names, rotation=45, ha="right")
    axes.set_ylabel(unit)
    axes.legend()
    _save(figure, path)
    plt.close(figure)


def size_histogram(path: Path, splits: dict, what: str) -> None:
    """The objects' sizes (square root of the area in pixels) per split."""
    plt = _figure()
    figure, axes = plt.subplots(figsize=(6, 4))
    sides = {s: [np.sqrt(a) for item in items for _, a in item.objects if a > 0]
             for s, items in splits.items()}  # fmt: skip
    every = [v for values in sides.values() for v in values]
    bins = np.linspace(0, max(every) if every else 1, 30)
    for split, values in sides.items():
        axes.hist(values, bins=bins, alpha=0.6, label=f"{split} ({len(values)})")
    axes.set_xlabel(f"{what} size: square root of the area (pixels)")
    axes.set_ylabel("count")
    axes.legend()
    _save(figure, path)
    plt.close(figure)


def contact_sheet(path: Path, pictures: list[tuple[str, np.ndarray]], tile: int = 256,
                  columns: int = 4) -> None:  # fmt: skip
    """``pictures`` ((caption, RGB image) pairs) scaled into ``tile`` squares on a grid."""
    rows = max(1, -(-len(pictures) // columns))
    caption = 18
    sheet = np.full((rows * (tile + caption), columns * tile, 3), 255, np.uint8)
    for k, (text, image) in enumerate(pictures):
        scale = tile / max(image.shape[:2])
        small = cv2.resize(image, (max(1, round(image.shape[1] * scale)),
                                   max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        top, left = (k // columns) * (tile + caption), (k % columns) * tile
        sheet[top : top + small.shape[0], left : left + small.shape[1]] = small
        fits = tile // 7  # characters of this font that fit under a tile
        text = text if len(text) <= fits else text[: fits - 3] + "..."
        cv2.putText(sheet, text, (left + 2, top + tile + 13), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    ok, data = cv2.imencode(".jpg", sheet[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    with atomic_open(path, "wb") as handle:
        handle.write(data.tobytes())
