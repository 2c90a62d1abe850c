#!/usr/bin/env python
"""Train FCN / PSPNet / DeepLabV3 / DeepLabV3+ for garment parsing (GluonCV's recipe).

    python train_segmentation.py --model deeplabv3 --backbone resnet18 \
        --dataset imaterialist_parts --data-root datasets/imaterialist --ctx cpu:0,cpu:1
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

from gluonext.common.cli import (
    add_run_flags,
    add_schedule_flags,
    positive_float,
    positive_int,
    run_tool,
    scale_list,
)
from gluonext.common.drawing import palette_for
from gluonext.common.gluoncv_cli import SEGMENTATION_ALIASES, translate
from gluonext.engine.checkpoint import batches_to_skip, continue_or_start, load_for_eval
from gluonext.engine.compat import is_uninitialized
from gluonext.engine.devices import batch_norm_layer, create_trainer, epoch_loader, split_batch
from gluonext.engine.loop import fit
from gluonext.engine.monitor import Monitor
from gluonext.engine.precision import backward, start_amp
from gluonext.engine.schedules import schedule_from_args
from gluonext.engine.session import start_run
from gluonext.engine.tracking import check_finite
from gluonext.errors import ModelError
from gluonext.segmentation.baseline import evaluate_baseline
from gluonext.segmentation.data import DATASETS, run_datasets
from gluonext.segmentation.evaluate import predict_logits, preview_overlays
from gluonext.segmentation.metrics import ConfusionMatrix
from gluonext.segmentation.model import (
    BACKBONES,
    FIXED_SIZE_MODELS,
    MODEL_ALIASES,
    backbone_of,
    build_segmentation_model,
    canonical_model,
    load_model_zoo,
    training_loss,
)

log = logging.getLogger("train_segmentation")


def parse_args(argv=None) -> argparse.Namespace:
    argv, notes = translate(list(sys.argv[1:] if argv is None else argv), SEGMENTATION_ALIASES)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="deeplabv3", choices=sorted(MODEL_ALIASES))
    p.add_argument("--backbone", default="resnet50", choices=[*BACKBONES, "xception"])
    p.add_argument("--dataset", default="imaterialist", choices=DATASETS)
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets/imaterialist")
    p.add_argument("--aux", action="store_true", help="auxiliary FCN head on stride-8 features")
    p.add_argument("--aux-weight", type=float, default=0.5)
    p.add_argument(
        "--model-zoo",
        default=None,
        help="fine-tune a GluonCV model-zoo model, "
        "e.g. deeplab_resnet101_coco (classifier reset to the dataset's classes)",
    )
    p.add_argument(
        "--pretrained-base",
        default=None,
        metavar="FILE",
        help="local ImageNet .params for the ResNet backbone",
    )
    p.add_argument("--base-size", type=positive_int, default=520)
    p.add_argument("--crop-size", type=positive_int, default=480)
    p.add_argument(
        "--scale-range",
        type=scale_list,
        default=(0.5, 2.0),
        help="random scale of --base-size for training crops (GluonCV: 0.5,2.0)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8,
        help="images per step over all devices and workers",
    )
    p.add_argument(
        "--test-batch-size", type=positive_int, default=4, help="batch for --val-mode crop"
    )
    p.add_argument(
        "--val-mode",
        choices=("whole", "crop"),
        default="whole",
        help="evaluate whole images at original resolution, or GluonCV's centre crops",
    )
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=positive_float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument(
        "--head-lr-mult",
        type=positive_float,
        default=10.0,
        help="learning-rate multiplier of the heads (GluonCV: 10)",
    )
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--syncbn", action="store_true", help="synchronised BatchNorm (GPUs only)")
    p.add_argument(
        "--eval-scales", type=scale_list, default=(1.0,), help="comma-separated, e.g. 0.75,1.0,1.25"
    )
    p.add_argument("--eval-flip", action="store_true", help="add horizontally flipped inputs")
    p.add_argument("--checkname", default="default", help="run name suffix (GluonCV's flag)")
    p.add_argument(
        "--train-split",
        default="train",
        help="the COCO split to train on: annotations/instances_<split>.json",
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="with --model-zoo: GluonCV's pretrained weights (what --model-zoo loads)",
    )
    data = p.add_argument_group("--dataset coco (any COCO JSON) and folder (images + mask PNGs)")
    data.add_argument("--train-json", default=None, help="coco: default annotations/"
                      "instances_<train-split>.json under --data-root")  # fmt: skip
    data.add_argument("--val-json", default=None,
                      help="coco: default annotations/instances_val.json")
    data.add_argument("--image-dir", default=None,
                      help="coco: the images' folder; folder: default images/ (JPEGImages/)")
    data.add_argument("--overlap", choices=("area", "order"), default="area",
                      help="coco: overlapping masks, smaller on top or later categories on top")
    data.add_argument("--mask-dir", default=None,
                      help="folder: default masks/ (SegmentationClass/)")
    data.add_argument("--classes", default=None, help="folder: class names (and colours) in "
                      "index order; default classes.txt under --data-root")  # fmt: skip
    data.add_argument("--ignore-value", type=int, default=255, help="folder: mask value ignored")
    add_schedule_flags(p, "poly")
    add_run_flags(p, seed=0, save_dir="runs/segmentation/<run name>")
    args = p.parse_args(argv)
    for flag, value, datasets in (
        ("--train-json", args.train_json, ("coco",)),
        ("--val-json", args.val_json, ("coco",)),
        ("--overlap", args.overlap != "area", ("coco",)),
        ("--image-dir", args.image_dir, ("coco", "folder")),
        ("--mask-dir", args.mask_dir, ("folder",)),
        ("--classes", args.classes, ("folder",)),
        ("--ignore-value", args.ignore_value != 255, ("folder",)),
    ):
        if value and args.dataset not in datasets:
            p.error(f"{flag} applies to --dataset {' and '.join(datasets)}, not {args.dataset}")
    args.gluoncv_notes = notes
    return args


def build_net(args, nclass: int, contexts, norm_layer, norm_kwargs):
    """The network, initialised on ``contexts``; heads train at ``--head-lr-mult`` x the LR."""
    if args.pretrained and not args.model_zoo:
        raise ModelError("--pretrained: GluonCV's pretrained weights come with --model-zoo NAME")
    if args.model_zoo:
        net = load_model_zoo(args.model_zoo, nclass)
    else:
        net = build_segmentation_model(
            args.model,
            args.backbone,
            nclass,
            args.aux,
            args.pretrained_base,
            args.crop_size,
            norm_layer,
            norm_kwargs,
        )
    for param in net.collect_params().values():
        if is_uninitialized(param):
            param.initialize(ctx=contexts, default_init=mx.init.Xavier(magnitude=2))
    net.collect_params().reset_ctx(contexts)
    for block in getattr(net, "head_blocks", lambda: [])():
        block.collect_params().setattr("lr_mult", args.head_lr_mult)
    if args.hybridize:
        net.hybridize(static_alloc=True)
    return net


def train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor) -> dict:
    """One pass over this worker's shard; returns mean loss, images/s and the final lr."""
    total_loss, seen, start = 0.0, 0, time.perf_counter()
    per_epoch = len(loader) + loader.skipped  # a resumed epoch starts past its first batches
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)
    for iteration, (images, labels) in enumerate(bar, start=loader.skipped):
        data = gluon.utils.split_and_load(images, contexts, even_split=False)
        target = gluon.utils.split_and_load(labels, contexts, even_split=False)
        with autograd.record():
            losses = [loss_fn(*net(x), y) for x, y in zip(data, target, strict=True)]
        backward(losses, trainer)
        trainer.step(args.batch_size)
        batch_loss = sum(loss.sum().asscalar() for loss in losses) / images.shape[0]
        check_finite(batch_loss, epoch, iteration)
        monitor.iteration(epoch, iteration, per_epoch, {"loss": batch_loss},
                          trainer.learning_rate, images.shape[0])  # fmt: skip
        total_loss += batch_loss * images.shape[0]
        seen += images.shape[0]
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", lr=f"{trainer.learning_rate:.2e}")
    seconds = time.perf_counter() - start
    return {
        "train_loss": total_loss / max(seen, 1),
        "lr": trainer.learning_rate,
        "img_per_s": seen / seconds if seconds else 0.0,
        "seconds": seconds,
    }


def evaluate(net, dataset, ctx, scales=(1.0,), flip=False, show=True, batch_size=1):
    """One confusion matrix over the whole set; whole images are scored at original size."""
    matrix = ConfusionMatrix(dataset.NUM_CLASS, list(dataset.CLASSES))
    if dataset.mode == "val":  # fixed-size centre crops, batched
        loader = gluon.data.DataLoader(dataset, batch_size, shuffle=False, last_batch="keep")
        for images, labels in tqdm(loader, desc="val", disable=not show, leave=False):
            logits = predict_logits(net, images.as_in_context(ctx), scales, flip)
            matrix.update(labels.asnumpy(), logits.argmax(axis=1).asnumpy())
        return matrix
    for index in tqdm(range(len(dataset)), desc="val", disable=not show, leave=False):
        image, label = dataset[index]
        logits = predict_logits(net, mx.nd.array(image[None], ctx=ctx), scales, flip)
        matrix.update(label, logits[0].argmax(axis=0).asnumpy())
    return matrix


def main(args) -> int:
    run_name = f"{args.dataset}_{canonical_model(args.model)}_{args.backbone}_{args.checkname}"
    save_dir = Path(args.save_dir or Path("runs") / "segmentation" / run_name)
    contexts, parallel, show = start_run(args, save_dir)
    amp = start_amp(args, contexts)
    train_set, val_set = get_datasets(args)
    net = build_net(args, train_set.NUM_CLASS, contexts, *batch_norm_layer(args.syncbn, contexts))
    blind = report_baseline(train_set, val_set) if parallel.is_main else None

    def validate(epoch=None):
        matrix = evaluate(
            net, val_set, contexts[0], args.eval_scales, args.eval_flip, show, args.test_batch_size
        )
        return {"pixAcc": matrix.pixel_accuracy, "mIoU": matrix.mean_iou}, matrix

    if args.eval:
        meta = load_for_eval(args, net)
        how = f"scales {args.eval_scales}" + (" + flip" if args.eval_flip else "")
        table = validate()[1].table(blind)
        log.info("evaluated %s (epoch %s) on %d images, %s\n%s", args.resume, meta.get("epoch"),
                 len(val_set), how, table)  # fmt: skip
        return 0

    local_batch, iters_per_epoch = split_batch(args.batch_size, len(train_set), parallel)
    trainer = make_trainer(args, net, parallel, iters_per_epoch, amp)
    loss_fn = training_loss(net, args.model, args.aux_weight, args.crop_size)
    best = {"mIoU": -1.0, "epoch": 0}
    start_epoch, best, history = continue_or_start(
        args, net, trainer, save_dir, best, parallel.is_main
    )
    log.info("%s: %d train / %d val images, %d classes, %s, batch %d (%d per worker), "
             "%d iterations per epoch", run_name, len(train_set), len(val_set),
             train_set.NUM_CLASS, ",".join(map(str, contexts)), args.batch_size, local_batch,
             iters_per_epoch)  # fmt: skip

    monitor = Monitor(args, save_dir, parallel.is_main)
    palette = dataset_palette(train_set)

    def preview(epoch):
        return preview_overlays(net, val_set, contexts[0], palette)

    def train_epoch(epoch):
        loader = epoch_loader(train_set, parallel, local_batch, args.seed, epoch, args.workers,
                              skip=batches_to_skip(args, epoch))  # fmt: skip
        return train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor)

    def validate_epoch(epoch):
        entries, matrix = validate()
        log.info("epoch %d validation:\n%s", epoch, matrix.table(blind))
        return entries, matrix.mean_iou

    best = fit(args, net, trainer, parallel, save_dir=save_dir, history=history, title=run_name,
               start_epoch=start_epoch, best=best, train_epoch=train_epoch,
               validate=validate_epoch, meta=checkpoint_meta(args, train_set),
               describe=describe_epoch,
               baseline={"baseline_mIoU": blind.mean_iou} if blind else None,
               monitor=monitor, preview=preview)  # fmt: skip
    if parallel.is_main:
        log.info(
            "done: best mIoU %.4f at epoch %d; outputs in %s", best["mIoU"], best["epoch"], save_dir
        )
    return 0


def report_baseline(train_set, val_set):
    """The image-blind baseline's confusion matrix, logged: what a model must beat."""
    matrix = evaluate_baseline(train_set, val_set)
    log.info("image-blind baseline (each position's most frequent class in the training "
             "labels): mIoU %.4f, pixAcc %.4f", matrix.mean_iou, matrix.pixel_accuracy)  # fmt: skip
    return matrix


def get_datasets(args):
    """The training set (GluonCV's augmentation) and the validation set (whole images at their
    own resolution, or GluonCV's centre crops with ``--val-mode crop``)."""
    if canonical_model(args.model) in FIXED_SIZE_MODELS and args.val_mode == "whole":
        log.info("%s takes %d x %d inputs only: validation on centre crops (--val-mode crop)",
                 args.model, args.crop_size, args.crop_size)  # fmt: skip
        args.val_mode = "crop"
    train_set, val_set = run_datasets(args, "val" if args.val_mode == "crop" else "testval")
    for name, dataset in (("train", train_set), ("val", val_set)):
        for why, count in sorted({**dataset.skipped, **dataset.invalid}.items()):
            log.info("%s: %d left out (%s)", name, count, why)
    return train_set, val_set


def make_trainer(args, net, parallel, iters_per_epoch: int, amp=None):
    """GluonCV's segmentation optimiser: poly LR (power 0.9) after a linear warmup
    (``--lr-mode`` and friends change it)."""
    schedule = schedule_from_args(args, args.lr, iters_per_epoch, "poly", 0.1, args.warmup_epochs)
    opt_params = {"learning_rate": args.lr, "wd": args.weight_decay, "lr_scheduler": schedule}
    if args.optimizer == "sgd":
        opt_params["momentum"] = args.momentum
    return create_trainer(net.collect_params(), args.optimizer, opt_params, parallel, amp)


def checkpoint_meta(args, train_set) -> dict:
    """What a checkpoint needs to rebuild its network and name its classes."""
    return {
        "args": vars(args),
        "classes": train_set.CLASSES,
        "dataset": args.dataset,
        "model": canonical_model(args.model),
        "backbone": backbone_of(args.model, args.backbone),
        "nclass": train_set.NUM_CLASS,
        "aux": args.aux,
        "label_mode": getattr(train_set, "label_mode", None),
        "palette": [list(c) for c in dataset_palette(train_set)],
    }


def dataset_palette(dataset) -> list:
    """The colours classes are drawn in: the classes file's, else the label mode's."""
    palette = getattr(dataset, "palette", None)
    return palette or palette_for(dataset.NUM_CLASS, getattr(dataset, "label_mode", None))


def describe_epoch(record: dict) -> str:
    score = f", mIoU {record['mIoU']:.4f}" if "mIoU" in record else ""
    if score and "baseline_mIoU" in record:
        score += f" (image-blind {record['baseline_mIoU']:.4f})"
    return (
        f"epoch {record['epoch']}: loss {record['train_loss']:.4f}, "
        f"{record['img_per_s']:.2f} img/s, lr {record['lr']:.2e}{score}"
    )


def run(argv=None) -> int:
    return run_tool(main, parse_args(argv), "train_segmentation")


if __name__ == "__main__":
    sys.exit(run())
