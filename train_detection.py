#!/usr/bin/env python
"""Train an apparel box detector (GluonCV's SSD recipe) on LabelImg VOC XML or COCO JSON.

    python tools/split_dataset.py --input datasets/apparel --ratio 0.8
    python train_detection.py --model ssd --network mobilenet1.0 --data-shape 512 \
        --dataset voc --data-root datasets/apparel --ngpus 2 --batch-size 32
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import mxnet as mx
from mxnet import autograd, gluon
from tqdm import tqdm

from gluonext.cli import add_run_flags, epoch_list, positive_float, positive_int
from gluonext.data.detection import (
    COCOBoxes,
    VOCFolderDetection,
    read_class_list,
    read_split,
)
from gluonext.data.instance import InstanceDataset
from gluonext.data.segmentation import DatasetError
from gluonext.detection_eval import evaluate_detection
from gluonext.detectors import (
    SSD_NETWORKS,
    SeededGluonCVTransform,
    build_ssd,
    load_model_zoo_detector,
    ssd_anchors,
)
from gluonext.engine.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_epoch,
)
from gluonext.engine.devices import (
    DeviceError,
    average_running_stats,
    create_trainer,
    epoch_loader,
)
from gluonext.engine.schedules import WarmupSchedule
from gluonext.engine.session import start_run
from gluonext.engine.tracking import MetricsLog, TrainingDiverged, check_finite
from gluonext.models import ModelError

log = logging.getLogger("train_detection")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ssd", choices=("ssd",))
    p.add_argument("--network", default="mobilenet1.0", choices=sorted(SSD_NETWORKS))
    p.add_argument("--data-shape", type=positive_int, default=512)
    p.add_argument("--dataset", default="voc", choices=("voc", "coco"))
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets/apparel")
    p.add_argument("--train-list", default=None, help="voc: image stems (default train.txt)")
    p.add_argument("--val-list", default=None, help="voc: image stems (default test.txt)")
    p.add_argument("--classes", default=None, help="voc: class names, one per line")
    p.add_argument("--skip-bad", action="store_true", help="voc: leave bad XML/boxes out")
    p.add_argument("--categories", default="all", help="coco: all, main or ids")
    p.add_argument("--model-zoo", default=None, help="e.g. ssd_512_mobilenet1.0_voc")
    p.add_argument("--pretrained-base", default=None, metavar="FILE", help="ImageNet .params")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--epochs", type=positive_int, default=240)
    p.add_argument("--lr", type=positive_float, default=0.001)
    p.add_argument("--lr-decay", type=positive_float, default=0.1)
    p.add_argument("--lr-decay-epoch", type=epoch_list, default=(160, 200))
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--wd", type=float, default=0.0005)
    add_run_flags(p, seed=233, save_dir="runs/detection/<run name>")
    return p.parse_args(argv)


def get_datasets(args):
    """(train, val) box datasets: a LabelImg folder split by lists, or COCO JSON."""
    if args.dataset == "coco":
        train = InstanceDataset(args.data_root, "train", args.categories)
        val = InstanceDataset(args.data_root, "val", args.categories)
        return COCOBoxes(train), COCOBoxes(val)
    root = Path(args.data_root)
    classes = read_class_list(args.classes)
    train_names = read_split(args.train_list or root / "train.txt")
    val_names = read_split(args.val_list or root / "test.txt")
    train = VOCFolderDetection(root, classes, train_names, args.skip_bad)
    classes = list(train.CLASSES)
    val = VOCFolderDetection(root, classes, val_names, args.skip_bad, skip_empty=False)
    for line in train.report.summary().split(", "):
        log.info("  %s", line)
    return train, val


def build_net(args, classes, contexts):
    if args.model_zoo:
        net = load_model_zoo_detector(args.model_zoo, classes)
    else:
        net = build_ssd(args.network, args.data_shape, classes, args.pretrained_base)
    net.collect_params().reset_ctx(contexts)
    return net


def train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show) -> dict:
    """One pass over this worker's shard: GluonCV's SSD step (loss normalised by positives)."""
    if args.hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    totals = {"train_loss": 0.0, "train_loss_cls": 0.0, "train_loss_box": 0.0}
    steps, seen, start = 0, 0, time.perf_counter()
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)
    for iteration, (images, cls_targets, box_targets) in enumerate(bar):
        data = gluon.utils.split_and_load(images, contexts, even_split=False)
        cls_t = gluon.utils.split_and_load(cls_targets, contexts, even_split=False)
        box_t = gluon.utils.split_and_load(box_targets, contexts, even_split=False)
        with autograd.record():
            outputs = [net(x) for x in data]
            sum_loss, cls_loss, box_loss = loss_fn(
                [o[0] for o in outputs], [o[1] for o in outputs], cls_t, box_t
            )
            autograd.backward(sum_loss)
        trainer.step(1)  # the loss is already normalised by the number of positives
        values = [sum(x.sum().asscalar() for x in part) for part in (sum_loss, cls_loss, box_loss)]
        check_finite(values[0], epoch, iteration)
        for key, value in zip(totals, values, strict=True):
            totals[key] += value
        steps += 1
        seen += images.shape[0]
        bar.set_postfix(loss=f"{totals['train_loss'] / steps:.3f}")
    seconds = time.perf_counter() - start
    record = {k: v / max(steps, 1) for k, v in totals.items()}
    record.update(lr=trainer.learning_rate, img_per_s=seen / seconds if seconds else 0.0)
    record["seconds"] = seconds
    return record


def evaluate(net, dataset, ctx, data_shape: int, show=True) -> dict:
    """VOC07 mAP@0.5 per class and COCO box AP, every image at its own resolution."""
    net.hybridize(static_alloc=True, static_shape=True)  # a fresh graph in inference mode
    progress = (lambda it: tqdm(it, desc="val", leave=False)) if show else None
    return evaluate_detection(net, dataset, ctx, data_shape, progress)


def log_scores(title: str, scores: dict) -> None:
    table = "\n".join(
        f"  {name:<24}{'-' if ap != ap else f'{ap:.4f}':>8}"
        for name, ap in scores["voc07_per_class"].items()
    )
    coco = "  ".join(f"{k} {v:.4f}" for k, v in scores["coco"].items())
    log.info("%s: VOC07 mAP@0.5 %.4f\n%s\n  COCO: %s", title, scores["voc07_mAP"], table, coco)


def main(args) -> int:
    run_name = f"{args.dataset}_{args.model}_{args.data_shape}_{args.network}"
    save_dir = Path(args.save_dir or Path("runs") / "detection" / run_name)
    contexts, parallel, show = start_run(args, save_dir)
    train_set, val_set = get_datasets(args)
    classes = list(train_set.CLASSES)
    net = build_net(args, classes, contexts)

    if args.eval:
        if not args.resume:
            raise CheckpointError("--eval needs --resume CKPT (the weights to evaluate)")
        meta = load_checkpoint(args.resume, net)
        log_scores(f"evaluated {args.resume} (epoch {meta.get('epoch')})",
                   evaluate(net, val_set, contexts[0], args.data_shape, show))  # fmt: skip
        return 0

    if args.batch_size % parallel.num_workers:
        raise DeviceError(
            f"--batch-size {args.batch_size} must divide among {parallel.num_workers} workers"
        )
    local_batch = args.batch_size // parallel.num_workers
    iters_per_epoch = (len(train_set) // parallel.num_workers) // local_batch
    if iters_per_epoch == 0:
        raise DatasetError(
            f"{len(train_set)} training images give no full batch of {local_batch} per worker"
        )
    from gluoncv.data.batchify import Stack, Tuple
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform
    from gluoncv.loss import SSDMultiBoxLoss

    anchors = ssd_anchors(net, args.data_shape, contexts[0]).as_in_context(mx.cpu())
    train_set.transform_fn = SeededGluonCVTransform(
        SSDDefaultTrainTransform(args.data_shape, args.data_shape, anchors)
    )
    schedule = WarmupSchedule(
        args.lr,
        args.epochs * iters_per_epoch,
        int(args.warmup_epochs * iters_per_epoch),
        mode="step",
        steps=tuple(int(e * iters_per_epoch) for e in args.lr_decay_epoch),
        factor=args.lr_decay,
    )
    opt = {"learning_rate": args.lr, "wd": args.wd, "momentum": args.momentum}
    trainer = create_trainer(net.collect_params(), "sgd", {**opt, "lr_scheduler": schedule},
                             parallel)  # fmt: skip
    loss_fn = SSDMultiBoxLoss()
    start_epoch, best = 1, {"mAP": -1.0, "epoch": 0}
    metrics = MetricsLog(save_dir / "metrics.jsonl", title=run_name)
    if args.resume:
        meta = load_checkpoint(args.resume, net, trainer)
        start_epoch, best = meta["epoch"] + 1, meta.get("best", best)
        metrics.truncate(meta["epoch"])
        log.info("resumed from %s at epoch %d", args.resume, meta["epoch"])
    log.info(
        "%s: %d train / %d val images, classes %s, %s, batch %d, %d iterations per epoch",
        run_name, len(train_set), len(val_set), ", ".join(classes),
        ",".join(map(str, contexts)), args.batch_size, iters_per_epoch,
    )  # fmt: skip

    batchify = Tuple(Stack(), Stack(), Stack())
    for epoch in range(start_epoch, args.epochs + 1):
        mx.random.seed(args.seed * 1000 + epoch)
        loader = epoch_loader(
            train_set, parallel, local_batch, args.seed, epoch, args.workers, batchify
        )
        record = {
            "epoch": epoch,
            **train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show),
        }
        average_running_stats(net, parallel)
        validate = not args.no_val and (epoch % args.val_interval == 0 or epoch == args.epochs)
        if validate and parallel.is_main:
            scores = evaluate(net, val_set, contexts[0], args.data_shape, show)
            record.update({"voc07_mAP": scores["voc07_mAP"]})
            record.update({f"coco_{k}": v for k, v in scores["coco"].items()})
            log_scores(f"epoch {epoch} validation", scores)
            if scores["voc07_mAP"] > best["mAP"]:
                best = {"mAP": scores["voc07_mAP"], "epoch": epoch}
        if parallel.is_main:
            meta = {
                "epoch": epoch,
                "best": best,
                "args": vars(args),
                "classes": classes,
                "model": args.model,
                "network": args.network,
                "data_shape": args.data_shape,
            }
            save_epoch(save_dir, net, trainer, meta, is_best=best["epoch"] == epoch)
            metrics.append(record)
            log.info(
                "epoch %d: loss %.4f (cls %.4f, box %.4f), %.1f img/s, lr %.2e%s",
                epoch, record["train_loss"], record["train_loss_cls"], record["train_loss_box"],
                record["img_per_s"], record["lr"],
                f", VOC07 mAP {record['voc07_mAP']:.4f}" if "voc07_mAP" in record else "",
            )  # fmt: skip
    if parallel.is_main:
        log.info("done: best VOC07 mAP %.4f at epoch %d; outputs in %s",
                 best["mAP"], best["epoch"], save_dir)  # fmt: skip
    return 0


def run(argv=None) -> int:
    args = parse_args(argv)
    try:
        return main(args)
    except (DeviceError, DatasetError, ModelError, CheckpointError, TrainingDiverged) as exc:
        logging.getLogger("train_detection").error("error: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(run())
