#!/usr/bin/env python
"""Benchmark the segmentation pipeline against GluonCV's own path, same inputs, one run.

1. Data loading (train mode: flip, random scale, crop, blur, normalise), samples/s:
   ``IMaterialistSegmentation`` (masks painted from RLE at load time) against a GluonCV
   ``SegmentationDataset`` subclass reading the same JPEGs with pre-rendered PNG masks,
   GluonCV's ``_sync_transform`` and its ``ToTensor``/``Normalize`` transforms.
2. Metric update, batches/s: ``ConfusionMatrix`` against ``SegmentationMetric``.
3. Training img/s: ``train_segmentation.py`` against a bare Gluon loop (GluonCV data path,
   the same network, batch and crop, SGD, ``MixSoftmaxCrossEntropyLoss``).

    python bench/segmentation.py [--images 200 --crop-size 256 --steps 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import mxnet as mx
import numpy as np
from bench_common import items_per_second, last_epoch
from PIL import Image

from gluonext.common.files import write_json
from gluonext.formats.imaterialist_coco import ConvertOptions, convert
from gluonext.sample.writers import write_imaterialist
from gluonext.segmentation.data import IMaterialistSegmentation
from gluonext.segmentation.metrics import ConfusionMatrix

REPO = Path(__file__).resolve().parents[1]


def prepare(folder: Path, images: int, size: tuple[int, int]) -> Path:
    if not (folder / "annotations" / "instances_train.json").is_file():
        write_imaterialist(folder, images, seed=0, size=size, progress=False)
        convert(ConvertOptions(data_root=folder, val_num=10, progress=False))
    masks = folder / "gluoncv_masks"
    if not masks.is_dir():  # what a GluonCV user would pre-render once
        masks.mkdir()
        ours = IMaterialistSegmentation(folder, "train", "testval", label_mode="parts")
        for index in range(len(ours)):
            Image.fromarray(ours.label(index).astype(np.uint8)).save(
                masks / f"{Path(ours.images[index]['file_name']).stem}.png"
            )
    return folder


def gluoncv_dataset(folder: Path, base_size: int, crop_size: int):
    from gluoncv.data.segbase import SegmentationDataset
    from mxnet.gluon.data.vision import transforms

    class GluonCVGarments(SegmentationDataset):
        NUM_CLASS = 4

        def __init__(self):
            transform = transforms.Compose(
                [
                    transforms.ToTensor(),
                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                ]
            )
            super().__init__(str(folder), "train", "train", transform, base_size, crop_size)
            ours = IMaterialistSegmentation(folder, "train", "testval", label_mode="parts")
            self.images = [ours.image_path(i) for i in range(len(ours))]  # the same images

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            img = Image.open(self.images[index]).convert("RGB")
            mask = Image.open(folder / "gluoncv_masks" / f"{self.images[index].stem}.png")
            img, mask = self._sync_transform(img, mask)
            return self.transform(img), mask

    return GluonCVGarments()


def time_items(dataset, count: int, key=lambda i: i) -> float:
    n = len(dataset)
    return items_per_second(lambda i: dataset[key(i % n)], count)


def time_loader(dataset, batch_size: int, workers: int, batches: int, seeded: bool) -> float:
    from mxnet import gluon

    from gluonext.engine.devices import SeededBatchSampler

    n = len(dataset)
    indices = np.arange(batches * batch_size) % n
    if seeded:
        sampler = SeededBatchSampler(indices, batch_size, seed=0, epoch=1)
    else:
        sampler = gluon.data.BatchSampler(
            gluon.data.SequentialSampler(len(indices)), batch_size, "discard"
        )
        dataset = _Wrapped(dataset, indices)
    loader = gluon.data.DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, thread_pool=False
    )
    start = time.perf_counter()
    seen = 0
    for data, _ in loader:
        data.wait_to_read()
        seen += data.shape[0]
    return seen / (time.perf_counter() - start)


class _Wrapped:
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]


def bench_metric(repeats: int, shape=(4, 14, 256, 256)) -> tuple[float, float]:
    from gluoncv.utils.metrics.segmentation import SegmentationMetric

    rng = np.random.RandomState(0)
    logits = mx.nd.array(rng.rand(*shape))
    labels = mx.nd.array(rng.randint(-1, shape[1], size=(shape[0], *shape[2:])))
    ours, theirs = ConfusionMatrix(shape[1]), SegmentationMetric(shape[1])
    start = time.perf_counter()
    for _ in range(repeats):
        ours.update(labels.asnumpy(), mx.nd.argmax(logits, axis=1).asnumpy())
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        theirs.update(labels, logits)
    t_theirs = time.perf_counter() - start
    return repeats / t_ours, repeats / t_theirs


def bare_loop(folder: Path, args) -> float:
    """img/s of a minimal Gluon training loop on GluonCV's data path, same network."""
    from gluoncv.loss import MixSoftmaxCrossEntropyLoss
    from mxnet import autograd, gluon

    from gluonext.segmentation.model import build_segmentation_model

    mx.random.seed(0)
    dataset = gluoncv_dataset(folder, args.base_size, args.crop_size)
    loader = gluon.data.DataLoader(
        dataset,
        args.batch_size,
        shuffle=True,
        last_batch="discard",
        num_workers=args.workers,
        thread_pool=False,
    )
    net = build_segmentation_model("deeplabv3", args.backbone, 4, aux=False)
    net.initialize(mx.init.Xavier(magnitude=2))
    net.hybridize(static_alloc=True)
    trainer = gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.001, "momentum": 0.9, "wd": 1e-4}
    )
    loss_fn = MixSoftmaxCrossEntropyLoss(aux=False)
    # timed as train_segmentation.py times an epoch: loader start-up and first step included
    seen, start = 0, time.perf_counter()
    for step, (data, label) in enumerate(loader):
        data, label = data.as_in_context(mx.cpu()), label.as_in_context(mx.cpu())
        with autograd.record():
            loss = loss_fn(*net(data), label.astype("float32"))
        loss.backward()
        trainer.step(args.batch_size)
        loss.wait_to_read()
        seen += data.shape[0]
        if step == args.steps:
            break
    mx.nd.waitall()
    if not seen:
        raise SystemExit(f"no full training batch of {args.batch_size} images: raise --images")
    return seen / (time.perf_counter() - start)


def ours_training(folder: Path, args) -> float:
    """img/s that train_segmentation.py reports for one epoch of ``args.steps + 1`` batches."""

    images = (args.steps + 1) * args.batch_size
    subset = folder.parent / "train_subset"
    if not (subset / "annotations" / "instances_train.json").is_file():
        convert(
            ConvertOptions(
                data_root=folder,
                output_dir=subset / "annotations",
                val_num=len(list((folder / "train").glob("*.jpg"))) - images,
                progress=False,
            )
        )
        (subset / "train").symlink_to(folder / "train")
    out = folder.parent / "ours_run"
    command = [
        sys.executable,
        str(REPO / "train_segmentation.py"),
        "--model",
        "deeplabv3",
        "--backbone",
        args.backbone,
        "--dataset",
        "imaterialist_parts",
        "--data-root",
        str(subset),
        "--base-size",
        str(args.base_size),
        "--crop-size",
        str(args.crop_size),
        "--batch-size",
        str(args.batch_size),
        "--epochs",
        "1",
        "--lr",
        "0.001",
        "--ctx",
        "cpu",
        "--workers",
        str(args.workers),
        "--no-val",
        "--save-dir",
        str(out),
        "--no-progress",
    ]
    record = last_epoch(command, out)
    return record["img_per_s"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=160)
    p.add_argument("--image-size", default="480x640")
    p.add_argument("--base-size", type=int, default=520)
    p.add_argument("--crop-size", type=int, default=480)
    p.add_argument("--items", type=int, default=200, help="items timed per loader")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--steps", type=int, default=8, help="timed training steps")
    p.add_argument("--train-crop-size", type=int, default=256)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--data", default=str(REPO / "bench" / "data" / "segmentation"))
    args = p.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    folder = prepare(Path(args.data) / "imaterialist", args.images, (width, height))
    results = {
        "images": args.images,
        "image_size": args.image_size,
        "crop_size": args.crop_size,
        "base_size": args.base_size,
    }

    ours = IMaterialistSegmentation(
        folder, "train", "train", "parts", args.base_size, args.crop_size
    )
    theirs = gluoncv_dataset(folder, args.base_size, args.crop_size)
    ours_rate = time_items(ours, args.items, key=lambda i: (i, i))
    theirs_rate = time_items(theirs, args.items)
    results["loading_single_process"] = {
        "ours": ours_rate,
        "gluoncv": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }
    print(
        f"data loading, one process: ours {ours_rate:.1f} samples/s, GluonCV "
        f"{theirs_rate:.1f} samples/s ({ours_rate / theirs_rate:.2f}x)"
    )
    batches = max(1, args.items // args.batch_size)
    ours_rate = time_loader(ours, args.batch_size, args.workers, batches, seeded=True)
    theirs_rate = time_loader(theirs, args.batch_size, args.workers, batches, seeded=False)
    results["loading_dataloader"] = {
        "workers": args.workers,
        "ours": ours_rate,
        "gluoncv": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }
    print(
        f"DataLoader, {args.workers} workers: ours {ours_rate:.1f} samples/s, GluonCV "
        f"{theirs_rate:.1f} samples/s ({ours_rate / theirs_rate:.2f}x)"
    )

    ours_rate, theirs_rate = bench_metric(20)
    results["metric_update"] = {
        "ours": ours_rate,
        "gluoncv": theirs_rate,
        "ratio": ours_rate / theirs_rate,
    }
    print(
        f"metric update (4x14x256x256): ours {ours_rate:.1f} batches/s, SegmentationMetric "
        f"{theirs_rate:.1f} batches/s ({ours_rate / theirs_rate:.2f}x)"
    )

    train_args = argparse.Namespace(
        **{
            **vars(args),
            "crop_size": args.train_crop_size,
            "base_size": int(args.train_crop_size * 1.1),
        }
    )
    bare = bare_loop(folder, train_args)
    script = ours_training(folder, train_args)
    results["training"] = {
        "model": f"deeplabv3 {args.backbone}",
        "crop": args.train_crop_size,
        "batch": args.batch_size,
        "ours": script,
        "bare_loop": bare,
        "ratio": script / bare,
    }
    print(
        f"training deeplabv3 {args.backbone}, crop {args.train_crop_size}, batch "
        f"{args.batch_size}: train_segmentation.py {script:.2f} img/s, bare loop "
        f"{bare:.2f} img/s ({script / bare:.2f}x)"
    )
    out = REPO / "bench" / "results" / "segmentation.json"
    write_json(out, results, indent=2)
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
