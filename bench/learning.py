#!/usr/bin/env python
"""Does a recipe beat guessing? One task end to end against its image-blind baseline.

    python bench/learning.py --task segmentation|detection|keypoints|instances --seed S \
        --output DIR [--pretrained] [--pretrain-minutes 10]

Generates the task's data with seed S (held-out images disjoint from training, at least 80),
optionally first makes the recipe's ImageNet-layout backbone with tools/pretrain_backbone.py
(cached by network and seed), trains the recipe below with the task's script (which computes
the image-blind baseline from the training labels before training and records it in every
metrics.jsonl row), and writes DIR/result.json (task, metric, higher_is_better, baseline,
trained, margin, the bar and whether it was reached, epochs, seconds, per-epoch values) and
DIR/learning.png (the metric per epoch against the baseline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# task -> how its data is made, the recipe, the metric and the bar
TASKS = {
    "segmentation": {
        "script": "train_segmentation.py",
        "metric": "mIoU", "higher": True, "bar": ("plus", 0.25), "network": "resnet18_v1b",
        "flags": ["--model", "fcn", "--backbone", "resnet18", "--dataset", "imaterialist_parts",
                  "--base-size", "80", "--crop-size", "64", "--scale-range", "0.75,1.25",
                  "--batch-size", "4", "--epochs", "10", "--lr", "0.05", "--warmup-epochs", "0.5",
                  "--val-interval", "2"],
    },
    "detection": {
        "script": "train_detection.py",
        "metric": "voc07_mAP", "higher": True, "bar": ("plus", 0.25), "network": "mobilenet0.25",
        "flags": ["--model", "ssd", "--network", "mobilenet0.25", "--data-shape", "300",
                  "--dataset", "voc", "--augment", "flip", "--batch-size", "8", "--epochs", "30",
                  "--lr", "0.01", "--lr-decay-epoch", "24", "--val-interval", "5"],
    },
    "keypoints": {
        "script": "train_keypoints.py",
        "metric": "NE", "higher": False, "bar": ("times", 0.5), "network": "resnet18_v1b",
        "flags": ["--category", "all", "--network", "resnet18_v1b", "--input-size", "128x96",
                  "--val-ratio", "0.25", "--batch-size", "8", "--epochs", "30", "--lr", "0.002",
                  "--lr-decay-epoch", "24", "--val-interval", "5"],
    },
    "instances": {
        "script": "train_mask_rcnn.py",
        "metric": "mask_AP50", "higher": True, "bar": ("plus", 0.15), "network": "resnet18_v1b",
        "flags": ["--network", "resnet18_v1b", "--use-fpn", "--categories", "main",
                  "--short", "128", "--max-size", "160", "--rcnn-num-samples", "64",
                  "--rpn-pre-nms", "1000", "--rpn-post-nms", "100", "--epochs", "8",
                  "--lr", "0.01", "--lr-decay-epoch", "6", "--lr-warmup", "20",
                  "--val-interval", "4"],
    },
}  # fmt: skip


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} exited with {done.returncode}:\n"
                         f"{done.stderr[-2000:]}")  # fmt: skip


def make_data(task: str, seed: int, folder: Path) -> Path:
    """The task's generated data in its published layout, at least 80 held-out images."""
    tool = str(REPO / "tools" / "make_sample_data.py")
    if task in ("segmentation", "instances"):
        count, size = (640, "64x80") if task == "segmentation" else (240, "96x128")
        if not (folder / "train.csv").is_file():
            run([PYTHON, tool, "--format", "imaterialist", "--output", str(folder), "--num-images",
                 str(count), "--image-size", size, "--seed", str(seed)])  # fmt: skip
        if not (folder / "annotations" / "instances_val.json").is_file():
            categories = ["--categories", "main"] if task == "instances" else []
            run([PYTHON, str(REPO / "tools" / "convert_imaterialist_to_coco.py"), "--data-root",
                 str(folder), "--val-num", "80", "--seed", str(seed), "--no-progress",
                 *categories])  # fmt: skip
    elif task == "detection":
        if not (folder / "train.txt").is_file():
            run([PYTHON, tool, "--format", "voc", "--output", str(folder), "--num-images", "320",
                 "--image-size", "128x128", "--seed", str(seed)])  # fmt: skip
            run([PYTHON, str(REPO / "tools" / "split_dataset.py"), "--input", str(folder),
                 "--ratio", "0.75", "--seed", str(seed)])  # fmt: skip
    elif not (folder / "Annotations" / "train.csv").is_file():
        run([PYTHON, tool, "--format", "fashionai", "--output", str(folder), "--num-images",
             "400", "--image-size", "96x128", "--seed", str(seed)])  # fmt: skip
    return folder


def pretrained(network: str, seed: int, minutes: float) -> Path:
    """The ImageNet-layout backbone of ``network`` for ``seed`` (made once, then cached)."""
    path = REPO / "bench" / "data" / "backbones" / f"{network}_seed{seed}.params"
    if not path.is_file():
        run([PYTHON, str(REPO / "tools" / "pretrain_backbone.py"), "--network", network,
             "--output", str(path), "--seed", str(seed), "--minutes", str(minutes),
             "--no-progress"])  # fmt: skip
    return path


def plot(records: list[dict], metric: str, baseline: float, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    points = [(r["epoch"], r[metric]) for r in records if metric in r]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    if points:
        ax.plot(*zip(*points, strict=True), marker="o", label=f"{metric} (trained)")
    ax.axhline(baseline, linestyle="--", color="grey", label=f"{metric} (image-blind)")
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.add_argument("--pretrained", action="store_true", help="start from a pretrained backbone")
    p.add_argument("--pretrain-minutes", type=float, default=10.0)
    args = p.parse_args(argv)
    task = TASKS[args.task]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = make_data(args.task, args.seed, REPO / "bench" / "data" / "learning"
                     / f"{args.task}_seed{args.seed}")  # fmt: skip
    extra = ["--seed", str(args.seed)]
    if args.pretrained:
        weights = pretrained(task["network"], args.seed, args.pretrain_minutes)
        extra += ["--pretrained-base", str(weights)]
    run_dir = out / "run"
    run([PYTHON, str(REPO / task["script"]), *task["flags"], "--data-root", str(data),
         "--ctx", "cpu", "--workers", "0", "--save-dir", str(run_dir), "--no-progress",
         *extra])  # fmt: skip
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    metric, higher = task["metric"], task["higher"]
    scored = [r[metric] for r in records if metric in r]
    baseline = records[-1][f"baseline_{metric}"]
    trained = max(scored) if higher else min(scored)
    kind, amount = task["bar"]
    bar = baseline + amount if kind == "plus" else baseline * amount
    result = {
        "task": args.task, "metric": metric, "higher_is_better": higher,
        "pretrained": args.pretrained, "seed": args.seed,
        "baseline": baseline, "trained": trained,
        "margin": trained - baseline if higher else baseline - trained,
        "bar": bar, "reached": trained >= bar if higher else trained <= bar,
        "epochs": records[-1]["epoch"], "seconds": round(time.perf_counter() - start, 1),
        "per_epoch": [{"epoch": r["epoch"], metric: r[metric]} for r in records if metric in r],
    }  # fmt: skip
    (out / "result.json").write_text(json.dumps(result, indent=2))
    title = f"{args.task}, seed {args.seed}{', pretrained' if args.pretrained else ''}"
    plot(records, metric, baseline, out / "learning.png", title)
    verdict = "reached" if result["reached"] else "NOT reached"
    print(f"{title}: {metric} {trained:.4f} vs image-blind {baseline:.4f} (bar {bar:.4f}: "
          f"{verdict}) in {result['seconds']:.0f} s; {out / 'result.json'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
