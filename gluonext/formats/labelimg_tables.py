"""The LabelImg apparel project's tables: the flat CSV, the split by image and its counts.

The CSV has one row per box: ``filename,width,height,class,xmin,ymin,xmax,ymax`` with the XML's
own numbers. The split puts whole images on one side (``ratio`` of them in train, seeded); the
table counts boxes per class in train, test and total, as the seed reported it.
"""

from __future__ import annotations

import csv
import os

from gluonext.common.files import atomic_open
from gluonext.formats.labelimg import VOCRecord

CSV_HEADER = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def csv_rows(records: list[VOCRecord]) -> list[tuple]:
    rows = []
    for record in records:
        for obj in record.objects:
            rows.append(
                (record.image.name, record.width, record.height, obj.name)
                + tuple(_number(v) for v in obj.box)
            )
    return rows


def write_csv(path: str | os.PathLike, rows) -> None:
    """The seed's box CSV, written atomically."""
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        writer.writerows(rows)


def split_table(records: list[VOCRecord], train: list[str], test: list[str]) -> list[tuple]:
    """(class, train boxes, test boxes, total) per class, then a ``total`` row."""
    side = {stem: "train" for stem in train} | {stem: "test" for stem in test}
    counts: dict[str, list[int]] = {}
    for record in records:
        where = side.get(record.stem)
        if where is None:
            continue
        for obj in record.objects:
            row = counts.setdefault(obj.name, [0, 0])
            row[0 if where == "train" else 1] += 1
    table = [(name, a, b, a + b) for name, (a, b) in sorted(counts.items())]
    train_total, test_total = sum(r[1] for r in table), sum(r[2] for r in table)
    table.append(("total", train_total, test_total, train_total + test_total))
    return table


def format_table(table: list[tuple], images: tuple[int, int]) -> str:
    width = max(12, *(len(str(r[0])) for r in table))
    lines = [f"{'class':<{width}} {'train':>7} {'test':>7} {'total':>7}"]
    lines += [f"{name:<{width}} {a:>7} {b:>7} {t:>7}" for name, a, b, t in table]
    lines.append(f"{'images':<{width}} {images[0]:>7} {images[1]:>7} {sum(images):>7}")
    return "\n".join(lines)


def write_lines(path: str | os.PathLike, lines: list[str]) -> None:
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def write_table_csv(path: str | os.PathLike, table: list[tuple]) -> None:
    """The split table as CSV (class, train, test, total), written atomically."""
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("class", "train", "test", "total"))
        writer.writerows(table)
