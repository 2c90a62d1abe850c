#!/usr/bin/env python
"""Benchmark the keypoint data pipeline against GluonCV's, same images, one run; and time
training on the CPU.

1. Train-transform samples/s (read the JPEG, box to centre/scale, random scale / rotation /
   flip, affine warp, heatmaps, normalise): ``FashionAIKeypoints`` + ``PoseTrainTransform``
   against GluonCV's ``SimplePoseDefaultTrainTransform`` with images read by
   ``mx.image.imread`` (as GluonCV's pose datasets do) and the same whole-image boxes.
2. Training img/s of ``train_keypoints.py`` (SimplePose ResNet-18 and ResNet-50, 256x192,
   all 24 keypoints) on one CPU context from random weights.

    python bench/keypoints.py [--images 64 --image-size 512x512 --items 96]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
from bench_common import items_per_second, last_epoch

from gluonext.common.files import write_json
from gluonext.formats.fashionai import read_keypoint_csv
from gluonext.keypoints.data import FashionAIKeypoints
from gluonext.keypoints.presets import PoseTrainTransform
from gluonext.sample.writers import write_fashionai

REPO = Path(__file__).resolve().parents[1]


def prepare(folder: Path, images: int, size: tuple[int, int]) -> Path:
    if not (folder / "Annotations" / "train.csv").is_file():
        write_fashionai(folder, images, seed=0, size=size, progress=False)
    return folder


def gluoncv_items(dataset: FashionAIKeypoints):
    """(path, label) per image as GluonCV's transform takes them: whole-image box, joints_3d."""
    items = []
    for index in range(len(dataset)):
        row = dataset.rows[index]
        joints, weight = dataset.joints(index)
        j3d = np.zeros((dataset.num_joints, 3, 2), np.float32)
        j3d[:, 0, 0], j3d[:, 1, 0] = joints[:, 0], joints[:, 1]
        j3d[:, :2, 1] = weight[:, None]
        from PIL import Image

        with Image.open(dataset.root / row.image_id) as image:
            width, height = image.size
        items.append((str(dataset.root / row.image_id), {"bbox": [0, 0, width, height],
                                                         "joints_3d": j3d}))  # fmt: skip
    return items


def time_gluoncv(items, transform, count: int) -> float:
    def one(i):
        path, label = items[i % len(items)]
        return transform(mx.image.imread(path), label, path)

    return items_per_second(one, count)


def training_rate(folder: Path, network: str, out: Path, batch: int) -> dict:
    command = [
        sys.executable, str(REPO / "train_keypoints.py"), "--category", "all", "--network",
        network, "--data-root", str(folder), "--input-size", "256x192", "--batch-size",
        str(batch), "--epochs", "2", "--ctx", "cpu", "--workers", "1", "--no-val",
        "--val-ratio", "0.05", "--save-dir", str(out), "--no-progress",
    ]  # fmt: skip
    record = last_epoch(command, out)
    return {"img_per_s": record["img_per_s"], "seconds": record["seconds"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--image-size", default="512x512")
    p.add_argument("--items", type=int, default=96, help="items timed per pipeline")
    p.add_argument("--data", default=str(REPO / "bench" / "data" / "keypoints"))
    p.add_argument("--skip-training", action="store_true")
    args = p.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    folder = prepare(Path(args.data) / "fashionai", args.images, (width, height))
    results = vars(args).copy()

    from gluoncv.data.transforms.presets.simple_pose import SimplePoseDefaultTrainTransform

    rows, _ = read_keypoint_csv(folder / "Annotations" / "train.csv", folder)
    dataset = FashionAIKeypoints(folder, rows, "all")
    dataset.transform_fn = PoseTrainTransform(dataset.pairs, (256, 192), 2.0)
    theirs = SimplePoseDefaultTrainTransform(
        dataset.num_joints, dataset.pairs, (256, 192), (64, 48), 2
    )
    items = gluoncv_items(dataset)
    n = len(dataset)
    ours_rate = max(items_per_second(lambda i: dataset[(i % n, i)], args.items) for _ in range(2))
    theirs_rate = max(time_gluoncv(items, theirs, args.items) for _ in range(2))
    results["train_transform"] = {
        "ours": ours_rate,
        "gluoncv": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }
    print(
        f"train transform ({width}x{height} -> 256x192, 24 keypoints): ours {ours_rate:.1f} "
        f"samples/s, GluonCV {theirs_rate:.1f} samples/s ({ours_rate / theirs_rate:.2f}x)"
    )
    if not args.skip_training:
        results["training"] = {}
        for network, batch in (("resnet18_v1b", 16), ("resnet50_v1b", 8)):
            rate = training_rate(folder, network, folder.parent / f"run_{network}", batch)
            results["training"][f"simple_pose_{network} 256x192 batch {batch}"] = rate
            print(f"training simple_pose_{network} 256x192, batch {batch}, CPU: "
                  f"{rate['img_per_s']:.2f} img/s")  # fmt: skip
    out = REPO / "bench" / "results" / "keypoints.json"
    write_json(out, results, indent=2)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
