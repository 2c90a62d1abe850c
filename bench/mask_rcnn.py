#!/usr/bin/env python
"""Benchmark the Mask R-CNN data pipeline against GluonCV's, same images, one run; and time
training on the CPU.

1. Train-transform samples/s (read the JPEG, resize, flip, masks, normalise, RPN targets for
   FPN ResNet-18): ``InstanceDataset`` + ``MaskRCNNTrainTransform`` on the converter's RLE
   against GluonCV's ``MaskRCNNDefaultTrainTransform`` on polygons of the same masks (traced
   with OpenCV, as a COCO polygon file would hold them), images read with ``mx.image.imread``
   as GluonCV's ``COCOInstance`` does.
2. Training img/s of ``train_mask_rcnn.py`` (ResNet-18, with and without FPN) at a stated
   short side, from random weights, one CPU context.

    python bench/mask_rcnn.py [--images 60 --image-size 480x640 --short 800 --train-short 320]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np
from bench_common import items_per_second, last_epoch

from gluonext.common.files import write_json
from gluonext.formats.imaterialist_coco import ConvertOptions, convert
from gluonext.instance.data import InstanceDataset
from gluonext.instance.model import build_mask_rcnn
from gluonext.rcnn.model import initialize
from gluonext.rcnn.presets import MaskRCNNTrainTransform, decode_masks
from gluonext.sample.writers import write_imaterialist

REPO = Path(__file__).resolve().parents[1]


def prepare(folder: Path, images: int, size: tuple[int, int]) -> Path:
    if not (folder / "annotations" / "instances_train.json").is_file():
        write_imaterialist(folder, images, seed=0, size=size, progress=False)
        convert(ConvertOptions(data_root=folder, val_num=4, progress=False))
    return folder


def polygons_of(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of a binary mask as GluonCV polygons ((N, 2) float32 x, y arrays)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c[:, 0, :].astype(np.float32) for c in contours if len(c) >= 3]


def gluoncv_items(dataset: InstanceDataset):
    """(path, label, polygons) per image: what GluonCV's COCOInstance would hand over."""
    items = []
    for index in range(len(dataset)):
        info = dataset.images[index]
        masks = decode_masks(dataset.segmentations(index), info["height"], info["width"])
        label, polygons = [], []
        for k, row in enumerate(dataset.label(index)):
            polys = polygons_of(np.ascontiguousarray(masks[:, :, k]))
            if polys:
                label.append(row)
                polygons.append(polys)
        items.append((str(dataset.image_path(index)), np.array(label, np.float32), polygons))
    return items


def time_gluoncv(items, transform, count: int) -> float:
    def one(i):
        path, label, polygons = items[i % len(items)]
        return transform(mx.image.imread(path), label, polygons)

    return items_per_second(one, count)


def training_rate(folder: Path, use_fpn: bool, short: int, out: Path, extra: list) -> dict:
    command = [
        sys.executable, str(REPO / "train_mask_rcnn.py"), "--network", "resnet18_v1b",
        "--data-root", str(folder), "--categories", "all", "--short", str(short),
        "--max-size", str(short * 2), "--epochs", "1", "--lr", "0.005", "--ctx", "cpu",
        "--workers", "1", "--no-val", "--save-dir", str(out), "--no-progress",
    ]  # fmt: skip
    if use_fpn:
        command.append("--use-fpn")
    command.extend(extra)
    record = last_epoch(command, out)
    return {"img_per_s": record["img_per_s"], "seconds": record["seconds"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=60)
    p.add_argument("--image-size", default="480x640")
    p.add_argument("--short", type=int, default=800, help="short side of the transforms")
    p.add_argument("--max-size", type=int, default=1333)
    p.add_argument("--items", type=int, default=120, help="items timed per pipeline")
    p.add_argument("--train-short", type=int, default=320)
    p.add_argument("--train-images", type=int, default=12)
    p.add_argument("--data", default=str(REPO / "bench" / "data" / "mask_rcnn"))
    p.add_argument("--skip-training", action="store_true")
    args = p.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    folder = prepare(Path(args.data) / "imaterialist", args.images, (width, height))
    results = vars(args).copy()

    from gluoncv.data.transforms.presets.rcnn import MaskRCNNDefaultTrainTransform

    dataset = InstanceDataset(folder, "train", "all")
    net = build_mask_rcnn("resnet18_v1b", list(dataset.CLASSES), True, args.short, args.max_size)
    initialize(net, [mx.cpu()])
    dataset.transform_fn = MaskRCNNTrainTransform(net, args.short, args.max_size, multi_stage=True)
    theirs = MaskRCNNDefaultTrainTransform(
        args.short, args.max_size, net, ashape=net.ashape, multi_stage=True
    )
    items = gluoncv_items(dataset)
    n = len(dataset)
    ours_rate = max(items_per_second(lambda i: dataset[(i % n, i)], args.items) for _ in range(2))
    theirs_rate = max(time_gluoncv(items, theirs, args.items) for _ in range(2))
    instances = sum(len(a) for a in dataset.annotations) / len(dataset)
    results["train_transform"] = {
        "ours": ours_rate,
        "gluoncv": theirs_rate,
        "ratio": ours_rate / theirs_rate,
        "instances_per_image": instances,
    }
    print(
        f"train transform ({width}x{height} -> short {args.short}, {instances:.1f} instances "
        f"per image): ours {ours_rate:.1f} samples/s, GluonCV {theirs_rate:.1f} samples/s "
        f"({ours_rate / theirs_rate:.2f}x)"
    )

    if args.skip_training:
        return 0
    subset = folder.parent / "train_subset"
    if not (subset / "annotations" / "instances_train.json").is_file():
        convert(
            ConvertOptions(
                data_root=folder,
                output_dir=subset / "annotations",
                val_num=args.images - args.train_images,
                progress=False,
            )
        )
        (subset / "train").symlink_to(folder / "train")
    results["training"] = {}
    cpu_caps = ["--rcnn-num-samples", "128", "--rpn-pre-nms", "2000", "--rpn-post-nms", "300"]
    for name, use_fpn, extra in (
        ("fpn_resnet18_v1b", True, []),
        ("resnet18_v1b", False, []),
        ("fpn_resnet18_v1b, CPU caps", True, cpu_caps),
    ):
        out = folder.parent / f"run_{name.replace(', ', '_').replace(' ', '_')}"
        rate = training_rate(subset, use_fpn, args.train_short, out, extra)
        results["training"][name] = {**rate, "extra": " ".join(extra)}
        print(
            f"training Mask R-CNN {name}, short side {args.train_short}, CPU: "
            f"{rate['img_per_s']:.2f} img/s ({args.train_images} images in {rate['seconds']:.0f} s)"
        )
    out = REPO / "bench" / "results" / "mask_rcnn.json"
    write_json(out, results, indent=2)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
