#!/usr/bin/env python
"""Benchmark the detection data pipelines against GluonCV's on the same LabelImg images, one
run; and time training on the CPU.

1. Train-transform samples/s (read the JPEG and labels, augment, targets) for SSD, YOLOv3 and
   Faster R-CNN: ``VOCFolderDetection`` (a LabelImg folder, no VOCdevkit) with the recipe's
   transform against GluonCV's ``VOCDetection`` on a VOCdevkit view of the same files with
   GluonCV's ``SSDDefaultTrainTransform`` / ``YOLO3DefaultTrainTransform`` /
   ``FasterRCNNDefaultTrainTransform``. Ours: GluonCV's SSD / YOLOv3 augmentation in NumPy
   and OpenCV (``gluonext.detection.augment``, GluonCV's target generators), and for Faster
   R-CNN RPN targets only where they can be non-zero.
2. Training img/s of ``train_detection.py`` for each model on one CPU context from random
   weights (one epoch, after a warm-up epoch).

    python bench/detection.py [--images 64 --image-size 480x640 --items 64]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mxnet as mx
from bench_common import items_per_second, last_epoch

from gluonext.common.files import write_json
from gluonext.detection.data import VOCFolderDetection
from gluonext.formats.labelimg_tables import write_lines
from gluonext.sample.writers import write_voc

REPO = Path(__file__).resolve().parents[1]


def prepare(folder: Path, images: int, size: tuple[int, int]) -> Path:
    """Generated LabelImg folder, train.txt / test.txt, and a VOCdevkit view (symlinks)."""
    if not (folder / "train.txt").is_file():
        write_voc(folder, images, seed=0, size=size, progress=False)
        stems = sorted(p.stem for p in folder.glob("*.xml"))
        write_lines(folder / "train.txt", stems)
        write_lines(folder / "test.txt", stems[:4])
        devkit = folder.parent / "VOCdevkit" / "VOC2007"
        for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
            (devkit / sub).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            (devkit / "JPEGImages" / f"{stem}.jpg").symlink_to(folder / f"{stem}.jpg")
            (devkit / "Annotations" / f"{stem}.xml").symlink_to(folder / f"{stem}.xml")
        write_lines(devkit / "ImageSets" / "Main" / "train.txt", stems)
    if not (folder / "train_small.txt").is_file():
        stems = (folder / "train.txt").read_text().split()
        write_lines(folder / "train_small.txt", stems[:8])
    return folder


def gluoncv_dataset(folder: Path, classes):
    from gluoncv.data import VOCDetection

    class Apparel(VOCDetection):
        CLASSES = tuple(c.lower() for c in classes)  # GluonCV refuses upper case

    return Apparel(root=str(folder.parent / "VOCdevkit"), splits=[(2007, "train")])


def pipelines(folder: Path, count: int) -> dict:
    import gluoncv
    from gluoncv.data.transforms.presets.rcnn import FasterRCNNDefaultTrainTransform
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
    from gluoncv.data.transforms.presets.yolo import YOLO3DefaultTrainTransform

    from gluonext.detection.augment import SSDTrainTransform, YOLO3TrainTransform
    from gluonext.detection.model import (
        build_faster_rcnn,
        build_ssd,
        build_yolo3,
        ssd_anchors,
    )
    from gluonext.rcnn.model import initialize
    from gluonext.rcnn.presets import FasterRCNNTrainTransform

    ours = VOCFolderDetection(folder, names=(folder / "train.txt").read_text().split())
    classes = list(ours.CLASSES)
    theirs = gluoncv_dataset(folder, classes)
    n = len(ours)
    ssd = build_ssd("mobilenet0.25", 300, classes)
    anchors = ssd_anchors(ssd, 300)
    yolo = build_yolo3("mobilenet0.25", classes)
    frcnn = build_faster_rcnn("resnet50_v1b", classes, 600, 1000)
    initialize(frcnn, [mx.cpu()])
    del gluoncv
    cases = {
        "ssd_300": (
            SSDTrainTransform(300, 300, anchors),
            SSDDefaultTrainTransform(300, 300, anchors),
        ),
        "yolo3_416": (
            YOLO3TrainTransform(416, 416, yolo),
            YOLO3DefaultTrainTransform(416, 416, yolo),
        ),
        "faster_rcnn_600": (
            FasterRCNNTrainTransform(frcnn, 600, 1000),
            FasterRCNNDefaultTrainTransform(600, 1000, frcnn, ashape=frcnn.ashape),
        ),
    }
    results = {}
    for name, (our_transform, their_transform) in cases.items():
        ours.transform_fn = our_transform
        transformed = theirs.transform(their_transform)
        a = max(items_per_second(lambda i: ours[(i % n, i)], count) for _ in range(2))
        b = max(items_per_second(lambda i, t=transformed: t[i % n], count) for _ in range(2))
        results[name] = {"ours": a, "gluoncv": b, "ratio": a / b}
        print(f"train transform {name}: ours {a:.1f} samples/s, GluonCV {b:.1f} ({a / b:.2f}x)")
    return results


def training_rate(folder: Path, out: Path, model_args: list) -> dict:
    command = [
        sys.executable, str(REPO / "train_detection.py"), *model_args, "--dataset", "voc",
        "--data-root", str(folder), "--epochs", "2", "--lr", "0.001", "--ctx", "cpu",
        "--workers", "0", "--no-val", "--save-dir", str(out), "--no-progress",
    ]  # fmt: skip
    record = last_epoch(command, out)
    return {"img_per_s": record["img_per_s"], "seconds": record["seconds"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--image-size", default="480x640")
    p.add_argument("--items", type=int, default=64, help="items timed per pipeline")
    p.add_argument("--data", default=str(REPO / "bench" / "data" / "detection"))
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--skip-pipelines", action="store_true")
    args = p.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    folder = prepare(Path(args.data) / "apparel", args.images, (width, height))
    results = vars(args).copy()
    if not args.skip_pipelines:
        results["train_transform"] = pipelines(folder, args.items)
    if not args.skip_training:
        results["training"] = {}
        models = {
            "ssd_300_mobilenet0.25 batch 8": ["--model", "ssd", "--network", "mobilenet0.25",
                                              "--data-shape", "300", "--batch-size", "8"],
            "yolo3_mobilenet0.25 416 batch 8": ["--model", "yolo3", "--network", "mobilenet0.25",
                                                "--data-shape", "416", "--batch-size", "8"],
            "faster_rcnn_resnet50_v1b short 600": ["--model", "faster_rcnn", "--network",
                                                   "resnet50_v1b", "--data-shape", "600",
                                                   "--train-list", str(folder / "train_small.txt")],
        }  # fmt: skip
        for name, model_args in models.items():
            out = folder.parent / ("run_" + name.split()[0])
            result = training_rate(folder, out, model_args)
            results["training"][name] = result
            print(f"training {name}, CPU: {result['img_per_s']:.2f} img/s")
    out = REPO / "bench" / "results" / "detection.json"
    write_json(out, results, indent=2)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
