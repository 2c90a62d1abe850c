#!/usr/bin/env python
"""Benchmark: iMaterialist train.csv -> COCO JSON at full scale, and against the older method.

1. Generates (once, cached in bench/data/) a full-scale train.csv: 45,000 images, about
   333,000 rows, image sizes 300-1600 px, garment-shaped masks (one run per column, as real
   masks), categories drawn with the real data's skew towards sleeves, shoes and necklines.
2. Times ``tools/convert_imaterialist_to_coco.py`` on it in a fresh process, sampling the
   resident memory of the whole process tree.
3. On subsets, times the older converter's method (filter the whole table for every
   image, decode every mask in Python, encode with pycocotools) against ours on the same rows.

    python bench/convert_imaterialist.py                 # full scale + subsets
    python bench/convert_imaterialist.py --num-images 2000 --legacy-images 500
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from gluonext.common.files import write_json
from gluonext.formats.imaterialist import CSV_COLUMNS, label_descriptions

REPO = Path(__file__).resolve().parents[1]

# rough share of rows per category in the real train.csv (sleeves, shoes, necklines dominate)
CATEGORY_WEIGHTS = {
    31: 59000,
    23: 46000,
    33: 34000,
    10: 18000,
    1: 16000,
    32: 15000,
    6: 12000,
    13: 7000,
    35: 7000,
    24: 7000,
    0: 6600,
    28: 6000,
    4: 7800,
    8: 7000,
    19: 6800,
    29: 5000,
    7: 2800,
    14: 2700,
    18: 3300,
    21: 4300,
    2: 1500,
    9: 2800,
    3: 1100,
    25: 1400,
    36: 3400,
    38: 2000,
    39: 1300,
    41: 1400,
    42: 4500,
    44: 1500,
    45: 300,
    5: 700,
    11: 900,
    12: 150,
    15: 1400,
    16: 1200,
    17: 300,
    20: 100,
    22: 1000,
    26: 150,
    27: 1000,
    30: 550,
    34: 500,
    37: 2000,
    40: 700,
    43: 2000,
}
MAIN = set(range(13))
SMALL = {13, 14, 15, 16, 17, 18, 19, 22, 23, 30, 32, 34, 35, 36, 37, 38, 39, 40, 41, 42, 44, 45}


def _mask_runs(rng, height: int, width: int, category: int) -> str:
    """A blob one run per column: a garment-like silhouette in Kaggle RLE."""
    if category in MAIN:
        frac_w, frac_h = rng.uniform(0.25, 0.7), rng.uniform(0.3, 0.8)
    elif category in SMALL:
        frac_w, frac_h = rng.uniform(0.02, 0.12), rng.uniform(0.02, 0.12)
    else:
        frac_w, frac_h = rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.3)
    cols = max(2, int(width * frac_w))
    c0 = rng.randint(0, width - cols + 1)
    span = max(2, int(height * frac_h))
    centre = rng.randint(span // 2, height - span // 2 + 1)
    t = np.linspace(-1, 1, cols)
    wobble = rng.uniform(0.6, 1.0) + 0.1 * np.sin(t * rng.uniform(2, 9))
    half = np.maximum(1, (span / 2 * np.sqrt(np.clip(1 - t**2 * 0.9, 0, 1)) * wobble).astype(int))
    top = np.clip(centre - half, 0, height - 1)
    bottom = np.clip(centre + half, top + 1, height)
    starts = (np.arange(c0, c0 + cols) * height + top + 1).astype(np.int64)
    pairs = np.stack([starts, bottom - top], axis=1).ravel()
    return " ".join(map(str, pairs.tolist()))


def generate(folder: Path, num_images: int, rows_per_image: float, seed: int) -> Path:
    """Write train.csv and label_descriptions.json into ``folder`` (skipped if present)."""
    csv_path = folder / "train.csv"
    marker = folder / "params.json"
    params = {"num_images": num_images, "rows_per_image": rows_per_image, "seed": seed, "v": 2}
    if csv_path.is_file() and marker.is_file() and json.loads(marker.read_text()) == params:
        return csv_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    cats = np.array(sorted(CATEGORY_WEIGHTS))
    weights = np.array([CATEGORY_WEIGHTS[c] for c in cats], dtype=float)
    weights /= weights.sum()
    start = time.perf_counter()
    rows = 0
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index in range(num_images):
            long_side = rng.randint(500, 1601)
            short_side = int(long_side * rng.uniform(0.55, 1.0))
            height, width = (long_side, short_side) if rng.rand() < 0.7 else (short_side, long_side)
            image_id = f"{index:08x}{rng.randint(0, 2**31):08x}{'0' * 16}.jpg"
            for category in rng.choice(cats, size=max(1, rng.poisson(rows_per_image)), p=weights):
                attrs = "" if rng.rand() < 0.8 else f"_{rng.randint(0, 92)}"
                writer.writerow(
                    [
                        image_id,
                        _mask_runs(rng, height, width, int(category)),
                        height,
                        width,
                        f"{category}{attrs}",
                    ]
                )
                rows += 1
    write_json(folder / "label_descriptions.json", label_descriptions())
    marker.write_text(json.dumps(params))
    size_mb = csv_path.stat().st_size / 2**20
    print(
        f"generated {csv_path}: {num_images} images, {rows} rows, {size_mb:.0f} MiB "
        f"in {time.perf_counter() - start:.0f} s"
    )
    return csv_path


def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    stack += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_measured(command: list[str]) -> tuple[float, int]:
    """Run ``command``; return (wall seconds, peak RSS of its process tree in bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-2000:]}")
    return elapsed, peak


def subset(source: Path, folder: Path, num_images: int) -> Path:
    """The first ``num_images`` images of ``source`` (all their rows) as a dataset folder."""
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with open(source, newline="") as src, open(folder / "train.csv", "w", newline="") as dst:
        csv.field_size_limit(2**31 - 1)
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for row in reader:
            if row[0] not in seen:
                if len(seen) == num_images:
                    break
                seen.add(row[0])
            writer.writerow(row)
    write_json(folder / "label_descriptions.json", label_descriptions())
    return folder


def ours(folder: Path, workers: int) -> list[str]:
    return [
        sys.executable,
        str(REPO / "tools" / "convert_imaterialist_to_coco.py"),
        "--data-root",
        str(folder),
        "--output-dir",
        str(folder / "out_ours"),
        "--workers",
        str(workers),
        "--no-progress",
        "--val-num",
        "1000",
    ]


def legacy(folder: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "bench" / "legacy_convert.py"),
        str(folder),
        str(folder / "out_legacy"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=45000)
    parser.add_argument("--rows-per-image", type=float, default=7.4)
    parser.add_argument(
        "--legacy-images",
        default="500,2000",
        help="subset sizes (images) to time the older method on",
    )
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(REPO / "bench" / "data" / "imaterialist_full"))
    args = parser.parse_args()

    folder = Path(args.data)
    csv_path = generate(folder, args.num_images, args.rows_per_image, args.seed)
    rows = sum(1 for _ in open(csv_path)) - 1
    results = {
        "num_images": args.num_images,
        "rows": rows,
        "csv_mib": round(csv_path.stat().st_size / 2**20),
        "full": {},
        "subsets": [],
    }
    for workers in (int(w) for w in args.workers.split(",")):
        seconds, peak = run_measured(ours(folder, workers))
        results["full"][workers] = {
            "seconds": round(seconds, 1),
            "peak_gib": round(peak / 2**30, 2),
        }
        print(
            f"ours, full scale, {workers} worker(s): {seconds:.1f} s, peak {peak / 2**30:.2f} GiB"
        )
    for n in (int(v) for v in args.legacy_images.split(",") if v):
        part = subset(csv_path, folder.parent / f"subset_{n}", n)
        t_ours, _ = run_measured(ours(part, 1))
        t_old, _ = run_measured(legacy(part))
        results["subsets"].append(
            {
                "images": n,
                "ours_s": round(t_ours, 2),
                "legacy_s": round(t_old, 2),
                "ratio": round(t_old / t_ours, 1),
            }
        )
        print(
            f"{n} images: older method {t_old:.1f} s, ours {t_ours:.1f} s "
            f"({t_old / t_ours:.1f}x faster)"
        )
    out = REPO / "bench" / "results" / "convert_imaterialist.json"
    write_json(out, results, indent=2)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
