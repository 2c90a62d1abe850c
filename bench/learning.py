#!/usr/bin/env python
"""Does a recipe beat guessing? One task end to end against its image-blind baseline.

    python bench/learning.py --task segmentation|detection|keypoints|instances|attributes \
        --seed S --output DIR [--pretrained] [--budget full|suite] [--pretrain-epochs N]

Generates the task's data with seed S (held-out images disjoint from training, at least 80),
optionally first makes the recipe's ImageNet-layout backbone with tools/pretrain_backbone.py
on pictures of the generator's pretraining stream, which no task's data contains (cached by
network, seed and length), trains the recipe below with the task's script (which computes the
image-blind baseline from the training labels before training and records it in every
metrics.jsonl row), and writes DIR/result.json (task, metric, higher_is_better, baseline,
trained, margin, the bar and whether it was reached, epochs, seconds, per-epoch values) and
DIR/learning.png (the metric per epoch against the baseline). "trained" is the last epoch's
held-out value: no epoch is chosen by looking at the held-out images.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from gluonext.common.cli import positive_int
from gluonext.common.files import write_json
from gluonext.pretrain.data import PRETRAINING_STREAM

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
CACHE = REPO / "bench" / "data" / "learning"

# the instance recipe, shared by the instances and attributes tasks
MASK_RCNN_FLAGS = ["--network", "resnet18_v1b", "--use-fpn", "--categories", "main", "--short",
                   "128", "--max-size", "160", "--rcnn-num-samples", "64", "--rpn-pre-nms",
                   "1000", "--rpn-post-nms", "100", "--lr", "0.01", "--lr-warmup", "20"]

# task -> the metric, the bar, the backbone, the data (format, side, images, held out)
# and two budgets of one recipe: "full" (this script's default, within 20 minutes here) and
# "suite" (what the test suite can afford; tests/test_learning.py asserts the largest margin
# that fits it)
TASKS = {
    "segmentation": {
        "script": "train_segmentation.py", "metric": "mIoU", "higher": True,
        "bar": ("plus", 0.25), "network": "resnet18_v1b", "data": ("imaterialist", "64x80"),
        "flags": ["--model", "fcn", "--backbone", "resnet18", "--dataset", "imaterialist_parts",
                  "--base-size", "80", "--crop-size", "64", "--scale-range", "0.75,1.25",
                  "--batch-size", "4", "--lr", "0.05", "--warmup-epochs", "0.5"],
        "full": {"images": 640, "held_out": 80,
                 "flags": ["--epochs", "10", "--val-interval", "2"]},
        "suite": {"images": 400, "held_out": 80,
                  "flags": ["--epochs", "6", "--val-interval", "3"]},
    },
    "detection": {
        "script": "train_detection.py", "metric": "voc07_mAP", "higher": True,
        "bar": ("plus", 0.25), "network": "mobilenet0.25", "data": ("voc", "128x128"),
        "flags": ["--model", "ssd", "--network", "mobilenet0.25", "--data-shape", "300",
                  "--dataset", "voc", "--augment", "flip", "--batch-size", "8", "--lr", "0.01"],
        "full": {"images": 2000, "held_out": 160,
                 "flags": ["--epochs", "12", "--lr-decay-epoch", "9", "--val-interval", "3"]},
        "suite": {"images": 2000, "held_out": 160,
                  "flags": ["--epochs", "6", "--lr-decay-epoch", "5", "--val-interval", "6"]},
    },
    "keypoints": {
        "script": "train_keypoints.py", "metric": "NE", "higher": False,
        "bar": ("times", 0.5), "network": "resnet18_v1b", "data": ("fashionai", "96x128"),
        "flags": ["--category", "all", "--network", "resnet18_v1b", "--input-size", "128x96",
                  "--batch-size", "8", "--lr", "0.002"],
        "full": {"images": 400, "held_out": 100,
                 "flags": ["--epochs", "30", "--lr-decay-epoch", "24", "--val-interval", "5"]},
        "suite": {"images": 320, "held_out": 80,
                  "flags": ["--epochs", "20", "--lr-decay-epoch", "16", "--val-interval", "10"]},
    },
    "instances": {
        "script": "train_mask_rcnn.py", "metric": "mask_AP50", "higher": True,
        "bar": ("plus", 0.15), "network": "resnet18_v1b", "data": ("imaterialist", "96x128"),
        "flags": MASK_RCNN_FLAGS,
        "full": {"images": 240, "held_out": 80,
                 "flags": ["--epochs", "8", "--lr-decay-epoch", "6", "--val-interval", "4"]},
        "suite": {"images": 200, "held_out": 80,
                  "flags": ["--epochs", "2", "--lr-decay-epoch", "2", "--val-interval", "2"]},
    },
    # the instance recipe with Fashionpedia's attribute head; the metric is the attribute F1 on
    # the garments found, the baseline each category's most frequent attribute set on them. Its
    # full budget has more pictures than the instances task's (about 30 minutes here): on 80
    # held-out images the gain's standard error was 0.018, on 160 0.013
    "attributes": {
        "script": "train_mask_rcnn.py", "metric": "attr_F1", "higher": True,
        "bar": ("plus", 0.05), "network": "resnet18_v1b", "data": ("imaterialist", "96x128"),
        "flags": [*MASK_RCNN_FLAGS, "--attributes"],
        "full": {"images": 640, "held_out": 160,
                 "flags": ["--epochs", "4", "--lr-decay-epoch", "3", "--val-interval", "2"]},
        "suite": {"images": 200, "held_out": 80,
                  "flags": ["--epochs", "2", "--lr-decay-epoch", "2", "--val-interval", "2"]},
    },
}  # fmt: skip


# generated pictures the backbones are pretrained on (about 80 s to make; 1,200 were memorised
# within minutes, and 4,000 left a short ResNet18 pretraining short of the landmarks bar)
PICTURES = 8000
# each backbone's pretraining, in epochs over those pictures (the same weights on every run;
# about 8 and 4 minutes on one core here), for both budgets
PRETRAIN_EPOCHS = {"resnet18_v1b": 3, "mobilenet0.25": 16}


# the attributes task trains on the instances task's data (the same pictures, split and
# annotations, whose attribute_ids the converter keeps), made once for both
SHARES_DATA = {"attributes": "instances"}


def run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:2])} exited with {done.returncode}:\n"
                         f"{done.stderr[-2000:]}")  # fmt: skip


def make_data(task: str, budget: dict, seed: int, cache: Path) -> Path:
    """The task's generated data in its published layout, ``budget["held_out"]`` of its
    ``budget["images"]`` images held out (made once per data set, size and seed, in ``cache``;
    ``SHARES_DATA``)."""
    kind, size = TASKS[task]["data"]
    images, held_out = budget["images"], budget["held_out"]
    folder = cache / f"{SHARES_DATA.get(task, task)}_{images}images_{held_out}held_out_seed{seed}"
    done = folder / "complete"
    if done.is_file():
        return folder
    tool = str(REPO / "tools" / "make_sample_data.py")
    run([PYTHON, tool, "--format", kind, "--output", str(folder), "--num-images", str(images),
         "--image-size", size, "--seed", str(seed)])  # fmt: skip
    if kind == "imaterialist":
        categories = ["--categories", "main"] if task in ("instances", "attributes") else []
        run([PYTHON, str(REPO / "tools" / "convert_imaterialist_to_coco.py"), "--data-root",
             str(folder), "--val-num", str(held_out), "--seed", str(seed), "--no-progress",
             *categories])  # fmt: skip
    elif kind == "voc":
        run([PYTHON, str(REPO / "tools" / "split_dataset.py"), "--input", str(folder),
             "--ratio", str((images - held_out) / images), "--seed", str(seed)])  # fmt: skip
    done.write_text("")
    return folder


def held_out_flags(task: str, budget: dict) -> list[str]:
    """FashionAI has one training CSV: the keypoint script holds out its share itself."""
    if TASKS[task]["data"][0] == "fashionai":
        return ["--val-ratio", str(budget["held_out"] / budget["images"])]
    return []


def backbone(task_name: str, seed: int, cache: Path, epochs: int | None = None) -> Path:
    """The ImageNet-layout backbone of the task's network for ``seed``, pretrained on the
    generated pictures for ``PRETRAIN_EPOCHS`` (or ``epochs``) epochs: made once, then cached in
    ``cache/backbones``."""
    network = TASKS[task_name]["network"]
    epochs = epochs or PRETRAIN_EPOCHS[network]
    folder = cache / "backbones"
    path = folder / f"{network}_seed{seed}_{epochs}ep_{PICTURES}_stream{PRETRAINING_STREAM}.params"
    if not path.is_file():
        run([PYTHON, str(REPO / "tools" / "pretrain_backbone.py"), "--network", network,
             "--output", str(path), "--seed", str(seed), "--max-epochs", str(epochs),
             "--minutes", "1000", "--data", str(pretraining_data(seed, folder)),
             "--no-progress"])  # fmt: skip
    return path


def pretraining_data(seed: int, cache: Path) -> Path:
    """The generated iMaterialist pictures the backbones learn from, drawn from the
    generator's pretraining stream so that no task's images are among them (made once per
    seed)."""
    folder = cache / f"pretrain_images_seed{seed}_{PICTURES}_stream{PRETRAINING_STREAM}"
    if not (folder / "complete").is_file():
        run([PYTHON, str(REPO / "tools" / "make_sample_data.py"), "--format", "imaterialist",
             "--output", str(folder), "--num-images", str(PICTURES), "--image-size", "96x128",
             "--seed", str(seed), "--stream", str(PRETRAINING_STREAM)])  # fmt: skip
        (folder / "complete").write_text("")
    return folder


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


def learn(
    task_name: str,
    seed: int,
    output: Path,
    pretrain: bool,
    budget_name: str = "full",
    cache: Path = CACHE,
    pretrain_epochs: int | None = None,
) -> dict:
    """Generate, (pretrain), train and score one task; write and return ``result.json``."""
    task, budget = TASKS[task_name], TASKS[task_name][budget_name]
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = make_data(task_name, budget, seed, cache)
    extra = ["--seed", str(seed), *held_out_flags(task_name, budget)]
    if pretrain:
        weights = backbone(task_name, seed, cache, pretrain_epochs)
        extra += ["--pretrained-base", str(weights)]
    run_dir = output / "run"
    run([PYTHON, str(REPO / task["script"]), *task["flags"], *budget["flags"], "--data-root",
         str(data), "--ctx", "cpu", "--workers", "0", "--save-dir", str(run_dir),
         "--no-progress", *extra])  # fmt: skip
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    metric, higher = task["metric"], task["higher"]
    scored = [r[metric] for r in records if metric in r]
    if metric not in records[-1]:
        raise SystemExit(f"{task_name}: the last epoch was not validated (--val-interval)")
    baseline = records[-1][f"baseline_{metric}"]
    trained = scored[-1]  # the last epoch's: no epoch is picked on the held-out images
    kind, amount = task["bar"]
    bar = baseline + amount if kind == "plus" else baseline * amount
    result = {
        "task": task_name, "metric": metric, "higher_is_better": higher,
        "pretrained": pretrain, "seed": seed, "budget": budget_name,
        "baseline": baseline, "trained": trained, "chosen": "last epoch",
        "margin": trained - baseline if higher else baseline - trained,
        "bar": bar, "reached": trained >= bar if higher else trained <= bar,
        "epochs": records[-1]["epoch"], "seconds": round(time.perf_counter() - start, 1),
        "per_epoch": [{"epoch": r["epoch"], metric: r[metric]} for r in records if metric in r],
    }  # fmt: skip
    if f"{metric}_gain_se" in records[-1]:  # the paired difference's noise, where measured
        result["gain_se"] = records[-1][f"{metric}_gain_se"]
    write_json(output / "result.json", result, indent=2)
    title = f"{task_name}, seed {seed}{', pretrained' if pretrain else ', from scratch'}"
    plot(records, metric, baseline, output / "learning.png", title)
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", required=True)
    p.add_argument("--pretrained", action="store_true", help="start from a pretrained backbone")
    p.add_argument(
        "--pretrain-epochs",
        type=positive_int,
        default=None,
        help="the backbone's pretraining epochs (default: "
        + ", ".join(f"{k} {v}" for k, v in PRETRAIN_EPOCHS.items()) + ")",
    )
    p.add_argument(
        "--budget",
        choices=("full", "suite"),
        default="full",
        help="full: the recipe of the README; suite: the test suite's shorter one",
    )
    p.add_argument("--cache", default=str(CACHE), help="generated data and backbones")
    args = p.parse_args(argv)
    result = learn(args.task, args.seed, Path(args.output), args.pretrained, args.budget,
                   Path(args.cache), args.pretrain_epochs)  # fmt: skip
    verdict = "reached" if result["reached"] else "NOT reached"
    print(f"{args.task}, seed {args.seed}, {'pretrained' if args.pretrained else 'from scratch'}: "
          f"{result['metric']} {result['trained']:.4f} vs image-blind {result['baseline']:.4f} "
          f"(bar {result['bar']:.4f}: {verdict}"
          + (f"; the gain's standard error {result['gain_se']:.4f}" if "gain_se" in result else "")
          + f") in {result['seconds']:.0f} s; "
          f"{Path(args.output) / 'result.json'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
