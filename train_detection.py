"""Train an apparel box detector (GluonCV's SSD, YOLOv3 or Faster R-CNN recipe) on LabelImg
VOC XML or COCO JSON.

    python tools/split_dataset.py --input datasets/apparel_voc --ratio 0.8
    python train_detection.py --model ssd --network mobilenet1.0 --data-shape 512 \
        --dataset voc --data-root datasets/apparel_voc --ngpus 2 --batch-size 32
    python train_detection.py --model yolo3 --network darknet53 --mixup --ngpus 4
    python train_detection.py --model faster_rcnn --network resnet50_v1b --ngpus 8
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mxnet import autograd
from tqdm import tqdm

from gluonext.common.box_priors import PRIORS_PER_CLASS
from gluonext.common.cli import (
    add_run_flags,
    add_schedule_flags,
    epoch_list,
    positive_float,
    positive_int,
    run_tool,
)
from gluonext.common.gluoncv_cli import DETECTION_ALIASES, translate
from gluonext.detection.baseline import evaluate_baseline
from gluonext.detection.data import run_datasets
from gluonext.detection.evaluate import evaluate_detection, preview_boxes
from gluonext.detection.recipes import RECIPES
from gluonext.engine.checkpoint import batches_to_skip, continue_or_start, load_for_eval
from gluonext.engine.devices import batch_norm_layer, create_trainer, epoch_loader, split_batch
from gluonext.engine.loop import fit
from gluonext.engine.monitor import Monitor
from gluonext.engine.precision import backward, start_amp
from gluonext.engine.schedules import schedule_from_args
from gluonext.engine.session import start_run
from gluonext.engine.tracking import check_finite
from gluonext.formats.labelimg_tables import format_table, split_table
from gluonext.instance.data import InstanceDataset

log = logging.getLogger("train_detection")


def parse_args(argv=None) -> argparse.Namespace:
    argv, notes = translate(list(sys.argv[1:] if argv is None else argv), DETECTION_ALIASES)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ssd", choices=sorted(RECIPES))
    p.add_argument("--network", default=None,
                   help="ssd: mobilenet1.0 (default), mobilenet0.25, resnet50_v1, vgg16_atrous, "
                   "resnet34_v1b; yolo3: darknet53 (default), mobilenet1.0, mobilenet0.25; "
                   "faster_rcnn: resnet50_v1b (default), resnet101_v1d, resnet18_v1b")  # fmt: skip
    p.add_argument(
        "--data-shape",
        type=positive_int,
        default=None,
        help="ssd 512 / yolo3 416: square side; faster_rcnn: short side (600)",
    )
    p.add_argument("--max-size", type=positive_int, default=1000, help="faster_rcnn: long side")
    p.add_argument("--rcnn-num-samples", type=positive_int, default=128,
                   help="faster_rcnn: RoIs sampled per image in training")  # fmt: skip
    p.add_argument("--rpn-pre-nms", type=positive_int, default=None,
                   help="faster_rcnn: cap on the RPN's proposals before its NMS")  # fmt: skip
    p.add_argument("--rpn-post-nms", type=positive_int, default=None,
                   help="faster_rcnn: cap after its NMS (GluonCV: 2000 training, 300 test; "
                   "on a CPU the per-RoI head costs most)")  # fmt: skip
    p.add_argument("--dataset", default="voc", choices=("voc", "coco"))
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets/apparel_voc")
    p.add_argument("--train-list", default=None, help="voc: image stems (default train.txt)")
    p.add_argument("--val-list", default=None, help="voc: image stems (default test.txt)")
    p.add_argument("--image-dir", default=None,
                   help="voc: the images' folder when the XML are elsewhere (LabelImg's save dir)")
    p.add_argument("--val-root", default=None,
                   help="voc: a folder of validation XML (then --data-root is all training)")
    p.add_argument("--train-splits", default=None,
                   help="voc: ImageSets/Main split(s), e.g. trainval; in a VOCdevkit YEAR_NAME, "
                        "e.g. 2007_trainval,2012_trainval (GluonCV's default)")
    p.add_argument("--val-splits", default=None, help="voc: as --train-splits, e.g. 2007_test")
    p.add_argument("--classes", default=None, help="voc: class names, one per line")
    p.add_argument("--categories", default="all", help="coco: all, main or ids")
    p.add_argument("--model-zoo", default=None, help="e.g. ssd_512_mobilenet1.0_voc")
    p.add_argument("--pretrained-base", default=None, metavar="FILE", help="ImageNet .params")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="all devices (ssd 32, yolo3 64, faster_rcnn 1 per device)",
    )
    p.add_argument("--epochs", type=positive_int, default=None, help="ssd 240, yolo3 200, frcnn 20")
    p.add_argument("--lr", type=positive_float, default=None, help="0.001 (frcnn: x batch size)")
    p.add_argument("--lr-decay", type=positive_float, default=0.1)
    p.add_argument("--lr-decay-epoch", type=epoch_list, default=None,
                   help="ssd 160,200; yolo3 160,180; faster_rcnn 14,20")  # fmt: skip
    p.add_argument("--warmup-epochs", type=float, default=None, help="yolo3 2, others 0")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--wd", type=float, default=0.0005)
    p.add_argument("--syncbn", action="store_true", help="ssd / yolo3: SyncBatchNorm (GPUs only)")
    p.add_argument("--use-fpn", action="store_true", help="faster_rcnn: GluonCV's FPN layout")
    p.add_argument("--augment", default="gluoncv", choices=("gluoncv", "flip"),
                   help="ssd: GluonCV's augmentation, or resize + flip only")  # fmt: skip
    p.add_argument("--mixup", action="store_true", help="yolo3: GluonCV's detection mixup")
    p.add_argument("--no-mixup-epochs", type=int, default=20, help="yolo3: last epochs unmixed")
    p.add_argument("--label-smooth", action="store_true", help="yolo3: smooth class targets")
    p.add_argument("--no-random-shape", action="store_true",
                   help="yolo3: every batch at --data-shape (default: GluonCV's random sides, "
                   "a new one every 10 batches, from --data-shape - 96 to + 192)")  # fmt: skip
    add_schedule_flags(p, "step")
    add_run_flags(p, seed=233, save_dir="runs/detection/<run name>")
    args = p.parse_args(argv)
    args.gluoncv_notes = notes
    recipe = RECIPES[args.model]
    for key, value in recipe.defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.network not in recipe.networks:
        p.error(f"--network {args.network}: {args.model} takes {', '.join(recipe.networks)}")
    for flag, given, models in (
        ("--mixup", args.mixup, ("yolo3",)),
        ("--label-smooth", args.label_smooth, ("yolo3",)),
        ("--augment flip", args.augment == "flip", ("ssd",)),
        ("--syncbn", args.syncbn, ("ssd", "yolo3")),
        ("--no-random-shape", args.no_random_shape, ("yolo3",)),
        ("--use-fpn", args.use_fpn, ("faster_rcnn",)),
        ("--rpn-pre-nms", args.rpn_pre_nms, ("faster_rcnn",)),
        ("--rpn-post-nms", args.rpn_post_nms, ("faster_rcnn",)),
    ):
        if given and args.model not in models:
            p.error(f"{flag} applies to {' and '.join(models)} here, not to --model {args.model}")
    return args


def get_datasets(args):
    """(train, val) box datasets: a LabelImg folder split by lists, or COCO JSON."""
    train, val, parts = run_datasets(args, InstanceDataset)
    if args.dataset == "coco":
        return train, val
    for part in parts:
        log.info("  %s: %s%s", part.name, part.annotations,
                 f" (images in {part.images})" if part.images else "")  # fmt: skip
    for line in train.report.summary().split(", "):
        log.info("  %s", line)
    table = split_table(train.records + val.records, [r.stem for r in train.records],
                        [r.stem for r in val.records])  # fmt: skip
    source = f"from {args.classes}" if args.classes else "discovered from the XML"
    log.info("classes %s (boxes per split):\n%s", source,
             format_table(table, (len(train), len(val))))  # fmt: skip
    return train, val


def train_one_epoch(net, loader, recipe, trainer, contexts, epoch, args, show, monitor) -> dict:
    """One pass over this worker's shard with the recipe's loss; mean losses, img/s, lr."""
    if args.hybridize:
        # not static_shape: MXNet 1.9.1 then shows BatchNorm's running statistics one update
        # late, so checkpoints miss the last update and resumed runs drift (measured)
        net.hybridize(static_alloc=True)
    totals = dict.fromkeys(("train_loss", *(f"train_loss_{p}" for p in recipe.parts)), 0.0)
    steps, seen, start = 0, 0, time.perf_counter()
    per_epoch = len(loader) + loader.skipped  # a resumed epoch starts past its first batches
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)
    for iteration, batch in enumerate(bar, start=loader.skipped):
        images = _count(batch[0])
        with autograd.record():
            to_backward, parts = recipe.losses(net, batch, contexts)
        backward(to_backward, trainer)
        trainer.step(recipe.step_divisor(args.batch_size))
        divisor = recipe.report_divisor(images)
        values = {
            f"train_loss_{name}": sum(x.sum().asscalar() for x in arrays) / divisor
            for name, arrays in parts.items()
        }
        values["train_loss"] = sum(values.values())
        check_finite(values["train_loss"], epoch, iteration)
        monitor.iteration(epoch, iteration, per_epoch, values, trainer.learning_rate, images)
        for key, value in values.items():
            totals[key] += value
        steps += 1
        seen += images
        bar.set_postfix(loss=f"{totals['train_loss'] / steps:.3f}")
    seconds = time.perf_counter() - start
    record = {k: v / max(steps, 1) for k, v in totals.items()}
    record.update(lr=trainer.learning_rate, img_per_s=seen / seconds if seconds else 0.0)
    record["seconds"] = seconds
    return record


def _count(images) -> int:
    """Images in a batch: one array, or one array per device (Faster R-CNN)."""
    if isinstance(images, (list, tuple)):
        return sum(x.shape[0] for x in images)
    return images.shape[0]


def evaluate(net, dataset, ctx, recipe, show=True) -> dict:
    """VOC07 mAP@0.5 per class and COCO box AP, every image at its own resolution."""
    net.hybridize(static_alloc=True, static_shape=recipe.name != "faster_rcnn")  # a fresh graph
    progress = (lambda it: tqdm(it, desc="val", leave=False)) if show else None
    return evaluate_detection(net, dataset, ctx, recipe, progress)


def log_scores(title: str, scores: dict, blind: dict | None = None) -> None:
    """VOC07 AP per class (and the image-blind baseline's beside it) and COCO box AP."""

    def shown(ap) -> str:
        return "-" if ap is None or ap != ap else f"{ap:.4f}"

    head = f"  {'class':<24}{'AP':>8}" + (f"{'baseline':>10}" if blind else "")
    rows = [
        f"  {name:<24}{shown(ap):>8}"
        + (f"{shown(blind['voc07_per_class'].get(name)):>10}" if blind else "")
        for name, ap in scores["voc07_per_class"].items()
    ]
    coco = "  ".join(f"{k} {v:.4f}" for k, v in scores["coco"].items())
    log.info("%s: VOC07 mAP@0.5 %.4f\n%s\n  COCO: %s", title, scores["voc07_mAP"],
             "\n".join([head, *rows]), coco)  # fmt: skip


def report_baseline(train_set, val_set) -> dict:
    """The image-blind baseline's scores, logged: what a detector must beat."""
    blind = evaluate_baseline(train_set, val_set)
    log.info("image-blind baseline (%d prior boxes per class from the training boxes, "
             "scored by class share): VOC07 mAP@0.5 %.4f",
             PRIORS_PER_CLASS, blind["voc07_mAP"])  # fmt: skip
    return blind


def main(args) -> int:
    recipe = RECIPES[args.model](args)
    run_name = f"{args.dataset}_{args.model}_{args.data_shape}_{args.network}"
    save_dir = Path(args.save_dir or Path("runs") / "detection" / run_name)
    contexts, parallel, show = start_run(args, save_dir)
    amp = start_amp(args, contexts)
    if args.batch_size is None:  # faster_rcnn: one image per device
        args.batch_size = len(contexts) * parallel.num_workers
    if args.lr is None:
        args.lr = recipe.default_lr(args.batch_size)
    train_set, val_set = get_datasets(args)
    classes = list(train_set.CLASSES)
    net = build_net(recipe, args, classes, contexts)
    blind = report_baseline(train_set, val_set) if parallel.is_main else None

    if args.eval:
        meta = load_for_eval(args, net)
        log_scores(f"evaluated {args.resume} (epoch {meta.get('epoch')})",
                   evaluate(net, val_set, contexts[0], recipe, show), blind)  # fmt: skip
        return 0

    local_batch, iters_per_epoch = split_batch(args.batch_size, len(train_set), parallel)
    train_set = recipe.training_set(train_set)
    batchify = recipe.prepare(net, train_set, contexts)
    schedule = schedule_from_args(
        args, args.lr, iters_per_epoch, "step", recipe.warmup_factor, args.warmup_epochs,
        args.lr_decay_epoch, args.lr_decay,
    )  # fmt: skip
    opt = {"learning_rate": args.lr, "wd": args.wd, "momentum": args.momentum}
    trainer = create_trainer(net.collect_params(), "sgd", {**opt, "lr_scheduler": schedule},
                             parallel, amp)  # fmt: skip
    best = {"mAP": -1.0, "epoch": 0}
    start_epoch, best, history = continue_or_start(
        args, net, trainer, save_dir, best, parallel.is_main
    )
    log.info(
        "%s: %d train / %d val images, classes %s, %s, batch %d, %d iterations per epoch",
        run_name, len(train_set), len(val_set), ", ".join(classes),
        ",".join(map(str, contexts)), args.batch_size, iters_per_epoch,
    )  # fmt: skip

    monitor = Monitor(args, save_dir, parallel.is_main)

    def preview(epoch):
        return preview_boxes(net, val_set, recipe, contexts[0])

    def train_epoch(epoch):
        recipe.start_epoch(train_set, epoch)
        loader = epoch_loader(
            train_set, parallel, local_batch, args.seed, epoch, args.workers, batchify,
            recipe.sampler(), batches_to_skip(args, epoch),
        )  # fmt: skip
        return train_one_epoch(net, loader, recipe, trainer, contexts, epoch, args, show, monitor)

    def validate(epoch):
        scores = evaluate(net, val_set, contexts[0], recipe, show)
        log_scores(f"epoch {epoch} validation", scores, blind)
        entries = {"voc07_mAP": scores["voc07_mAP"]}
        entries.update({f"coco_{k}": v for k, v in scores["coco"].items()})
        return entries, scores["voc07_mAP"]

    def describe(record):
        losses = ", ".join(f"{p} {record[f'train_loss_{p}']:.4f}" for p in recipe.parts)
        score = f", VOC07 mAP {record['voc07_mAP']:.4f}" if "voc07_mAP" in record else ""
        if score and "baseline_voc07_mAP" in record:
            score += f" (image-blind {record['baseline_voc07_mAP']:.4f})"
        return (f"epoch {record['epoch']}: loss {record['train_loss']:.4f} ({losses}), "
                f"{record['img_per_s']:.1f} img/s, lr {record['lr']:.2e}{score}")  # fmt: skip

    meta = {"args": vars(args), "classes": classes, "model": args.model,
            "network": args.network, "data_shape": args.data_shape}  # fmt: skip
    best = fit(args, net, trainer, parallel, save_dir=save_dir, history=history, title=run_name,
               start_epoch=start_epoch, best=best, train_epoch=train_epoch, validate=validate,
               meta=meta, describe=describe,
               baseline={"baseline_voc07_mAP": blind["voc07_mAP"]} if blind else None,
               monitor=monitor, preview=preview)  # fmt: skip
    if parallel.is_main:
        log.info("done: best VOC07 mAP %.4f at epoch %d; outputs in %s",
                 best["mAP"], best["epoch"], save_dir)  # fmt: skip
    return 0


def build_net(recipe, args, classes, contexts):
    norm = batch_norm_layer(True, contexts) if args.syncbn else None  # ssd / yolo3 only
    return recipe.build(classes, contexts, args.pretrained_base, args.model_zoo, norm)


def run(argv=None) -> int:
    return run_tool(main, parse_args(argv), "train_detection")


if __name__ == "__main__":
    sys.exit(run())
