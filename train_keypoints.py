#!/usr/bin/env python
"""Train garment landmarks (GluonCV's SimplePose recipe) on FashionAI keypoints, scored by NE.

python train_keypoints.py --category blouse --network resnet50_v1b --ngpus 2
python train_keypoints.py --category all --input-size 256x192 --flip-test
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mxnet import autograd, gluon
from tqdm import tqdm

from gluonext.common.cli import (
    add_run_flags,
    add_schedule_flags,
    epoch_list,
    positive_float,
    positive_int,
    run_tool,
    scale_list,
)
from gluonext.common.gluoncv_cli import KEYPOINT_ALIASES, translate
from gluonext.common.model_zoo import ZOO, imagenet_file
from gluonext.engine.checkpoint import batches_to_skip, continue_or_start, load_for_eval
from gluonext.engine.devices import create_trainer, epoch_loader, split_batch
from gluonext.engine.loop import fit
from gluonext.engine.monitor import Monitor
from gluonext.engine.precision import backward, start_amp
from gluonext.engine.schedules import schedule_from_args
from gluonext.engine.session import start_run
from gluonext.engine.tracking import check_finite
from gluonext.errors import DatasetError
from gluonext.formats.fashionai import CATEGORIES
from gluonext.keypoints.baseline import evaluate_baseline
from gluonext.keypoints.data import fashionai_splits
from gluonext.keypoints.evaluate import evaluate_keypoints, preview_landmarks
from gluonext.keypoints.model import (
    FAMILIES,
    MOBILE_NETWORKS,
    NETWORKS,
    HeatmapLoss,
    build_pose_net,
    load_model_zoo_pose,
)
from gluonext.keypoints.presets import PoseTrainTransform

log = logging.getLogger("train_keypoints")


def input_size(text: str) -> tuple[int, int]:
    """``256x192`` (height x width, GluonCV's order) to (height, width), multiples of 32."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 256x192, got {text!r}") from None
    if height < 32 or width < 32 or height % 32 or width % 32:
        raise argparse.ArgumentTypeError(f"height and width must be multiples of 32, got {text}")
    return height, width


def parse_args(argv=None) -> argparse.Namespace:
    given = list(sys.argv[1:] if argv is None else argv)
    argv, notes = translate(given, KEYPOINT_ALIASES)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--category", default="blouse", choices=("all", *CATEGORIES))
    p.add_argument("--model", default="simple_pose", choices=sorted(FAMILIES))
    p.add_argument("--network", default="resnet50_v1b",
                   choices=sorted(set(NETWORKS) | set(MOBILE_NETWORKS)))  # fmt: skip
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets/fashionai")
    p.add_argument("--train-csv", default=None, help="default <data-root>/Annotations/train.csv")
    p.add_argument("--val-csv", default=None, help="labelled validation CSV (else a split)")
    p.add_argument("--val-ratio", type=float, default=0.1, help="held-out share of train CSV")
    p.add_argument("--input-size", type=input_size, default=(256, 192), help="HxW")
    p.add_argument("--sigma", type=positive_float, default=2.0, help="heatmap Gaussian sigma")
    p.add_argument("--pretrained-base", default=None, metavar="FILE", help="ImageNet ResNet")
    p.add_argument("--batch-size", type=positive_int, default=32, help="all devices together")
    p.add_argument("--epochs", type=positive_int, default=140)
    p.add_argument("--lr", type=positive_float, default=0.001)
    p.add_argument("--lr-decay", type=positive_float, default=0.1)
    p.add_argument("--lr-decay-epoch", type=epoch_list, default=(90, 120))
    p.add_argument("--warmup-epochs", type=float, default=0.0)
    p.add_argument("--wd", type=float, default=0.0)
    p.add_argument("--flip-test", action="store_true", help="average with mirrored heatmaps")
    p.add_argument("--scales", type=scale_list, default=(1.0,), help="test scales, e.g. 1,1.2")
    add_schedule_flags(p, "step")
    p.add_argument("--model-zoo", default=None,
                   help="fine-tune GluonCV's COCO-trained pose model, e.g. "
                   "simple_pose_resnet50_v1b (its last layer reset to the keypoints)")  # fmt: skip
    p.add_argument("--use-pretrained", action="store_true",
                   help="GluonCV's flag: --model-zoo <model>_<network>")  # fmt: skip
    p.add_argument("--num-joints", type=positive_int, default=None,
                   help="checked against --category's keypoints (GluonCV's flag)")  # fmt: skip
    add_run_flags(p, seed=233, save_dir="runs/keypoints/<category>_<network>")
    args = p.parse_args(argv)
    if args.use_pretrained and not args.model_zoo:
        args.model_zoo = f"{args.model}_{args.network}"
        notes.append(f"--use-pretrained -> --model-zoo {args.model_zoo}")
    if args.model_zoo:  # the checkpoint records the network the zoo model is
        family = next((f for f in FAMILIES if args.model_zoo.startswith(f + "_")), None)
        if family is None or args.model_zoo[len(family) + 1 :] not in FAMILIES[family]:
            p.error(f"--model-zoo {args.model_zoo}: expected simple_pose_<resnet> or "
                    "mobile_pose_<network> of GluonCV's pose model zoo")  # fmt: skip
        if args.pretrained_base:
            p.error("give --model-zoo (a whole pose model) or --pretrained-base, not both")
        args.model, args.network = family, args.model_zoo[len(family) + 1 :]
    if any(a == "--num-gpus" or a.startswith("--num-gpus=") for a in given):
        # GluonCV's pose script: --batch-size per device, with --num-gpus devices
        per_device = args.batch_size
        args.batch_size = per_device * max(1, args.ngpus)
        notes.append(
            f"--batch-size {per_device} per device (GluonCV's pose meaning) -> "
            f"--batch-size {args.batch_size} over {max(1, args.ngpus)} device(s)"
        )
    args.gluoncv_notes = notes
    return args


def get_datasets(args):
    """(train, val) FashionAI datasets: the train CSV split by image, or a separate val CSV."""
    train, val, skipped = fashionai_splits(
        args.data_root, args.category, args.train_csv, args.val_csv, args.val_ratio, args.seed,
        args.skip_bad)  # fmt: skip
    if skipped:
        log.info("skipped rows: %s", ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())))
    return train, val


def build_net(args, num_joints, contexts):
    base = args.pretrained_base
    if base == ZOO:
        base = imagenet_file(args.network)
    if args.model_zoo:
        net = load_model_zoo_pose(args.model_zoo, num_joints)
    else:
        net = build_pose_net(args.model, args.network, num_joints, base)
    net.collect_params().reset_ctx(contexts)
    return net


def train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor) -> dict:
    """One pass over this worker's shard; mean heatmap loss, img/s, final lr."""
    if args.hybridize:
        net.hybridize(static_alloc=True)
    total, steps, seen, start = 0.0, 0, 0, time.perf_counter()
    per_epoch = len(loader) + loader.skipped  # a resumed epoch starts past its first batches
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)
    for iteration, (images, targets, weights) in enumerate(bar, start=loader.skipped):
        data, target, weight = (
            gluon.utils.split_and_load(x, contexts, even_split=False)
            for x in (images, targets, weights)
        )
        with autograd.record():
            losses = [loss_fn(net(x), y, w) for x, y, w in zip(data, target, weight, strict=True)]
        backward(losses, trainer)
        trainer.step(args.batch_size)  # every worker's images of this step
        value = sum(x.sum().asscalar() for x in losses) / images.shape[0]
        check_finite(value, epoch, iteration)
        monitor.iteration(epoch, iteration, per_epoch, {"loss": value},
                          trainer.learning_rate, images.shape[0])  # fmt: skip
        total += value
        steps += 1
        seen += images.shape[0]
        bar.set_postfix(loss=f"{total / steps:.5f}")
    seconds = time.perf_counter() - start
    return {
        "train_loss": total / max(steps, 1),
        "lr": trainer.learning_rate,
        "img_per_s": seen / seconds if seconds else 0.0,
        "seconds": seconds,
    }


def evaluate(net, dataset, ctx, args, show=True) -> dict:
    """NE (percent) per category and overall, with --flip-test / --scales."""
    net.hybridize(static_alloc=True)
    progress = (lambda it: tqdm(it, desc="val", leave=False)) if show else None
    return evaluate_keypoints(
        net, dataset, args.input_size, ctx, args.flip_test, args.scales, progress
    )


def log_scores(title: str, scores: dict, blind: dict | None = None) -> None:
    """NE per category (and the image-blind baseline's beside it)."""
    other = blind["per_category"] if blind else {}
    head = f"  {'category':<10}{'NE':>9}" + (f"{'baseline':>10}" if blind else "")
    rows = [
        f"  {c:<10}{ne:8.2f}%" + (f"{other.get(c, float('nan')):9.2f}%" if blind else "")
        for c, ne in scores["per_category"].items()
    ]
    unscored = f" ({scores['unscored']} images without a normaliser)" if scores["unscored"] else ""
    log.info("%s: NE %.2f%%%s\n%s", title, scores["NE"], unscored, "\n".join([head, *rows]))


def report_baseline(train_set, val_set) -> dict | None:
    """The image-blind baseline's NE, logged: what a model must beat (None without val)."""
    if not len(val_set):
        return None
    blind = evaluate_baseline(train_set, val_set)
    log.info("image-blind baseline (each keypoint at its category's mean position in the "
             "training rows): NE %.2f%%", blind["NE"])  # fmt: skip
    return blind


def main(args) -> int:
    run_name = f"{args.category}_{args.network}_{args.input_size[0]}x{args.input_size[1]}"
    save_dir = Path(args.save_dir or Path("runs") / "keypoints" / run_name)
    contexts, parallel, show = start_run(args, save_dir)
    amp = start_amp(args, contexts)
    train_set, val_set = get_datasets(args)
    if args.num_joints is not None and args.num_joints != train_set.num_joints:
        raise DatasetError(
            f"--num-joints {args.num_joints}: --category {args.category} has "
            f"{train_set.num_joints} keypoints"
        )
    net = build_net(args, train_set.num_joints, contexts)
    blind = report_baseline(train_set, val_set) if parallel.is_main else None

    if args.eval:
        meta = load_for_eval(args, net)
        log_scores(f"evaluated {args.resume} (epoch {meta.get('epoch')})",
                   evaluate(net, val_set, contexts[0], args, show), blind)  # fmt: skip
        return 0

    local_batch, iters_per_epoch = split_batch(args.batch_size, len(train_set), parallel)
    train_set.transform_fn = PoseTrainTransform(train_set.pairs, args.input_size, args.sigma)
    schedule = schedule_from_args(args, args.lr, iters_per_epoch, "step", 0.0, args.warmup_epochs,
                                  args.lr_decay_epoch, args.lr_decay)  # fmt: skip
    trainer = create_trainer(net.collect_params(), "adam",
                             {"learning_rate": args.lr, "wd": args.wd, "lr_scheduler": schedule},
                             parallel, amp)  # fmt: skip
    loss_fn = HeatmapLoss()
    best = {"NE": float("inf"), "epoch": 0}
    start_epoch, best, history = continue_or_start(
        args, net, trainer, save_dir, best, parallel.is_main
    )
    log.info(
        "%s: %d train / %d val images, %d keypoints, %s, batch %d, %d iterations per epoch",
        run_name, len(train_set), len(val_set), train_set.num_joints,
        ",".join(map(str, contexts)), args.batch_size, iters_per_epoch,
    )  # fmt: skip

    monitor = Monitor(args, save_dir, parallel.is_main)

    def preview(epoch):
        return preview_landmarks(net, val_set, args.input_size, contexts[0])

    def train_epoch(epoch):
        loader = epoch_loader(train_set, parallel, local_batch, args.seed, epoch, args.workers,
                              skip=batches_to_skip(args, epoch))  # fmt: skip
        return train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor)

    def validate(epoch):
        if not len(val_set):
            return {}, None
        scores = evaluate(net, val_set, contexts[0], args, show)
        log_scores(f"epoch {epoch} validation", scores, blind)
        entries = {"NE": scores["NE"], **{f"NE_{c}": v for c, v in scores["per_category"].items()}}
        return entries, scores["NE"]

    meta = {"args": vars(args), "category": args.category, "joints": list(train_set.names),
            "model": args.model, "network": args.network,
            "input_size": list(args.input_size)}  # fmt: skip
    best = fit(args, net, trainer, parallel, save_dir=save_dir, history=history, title=run_name,
               start_epoch=start_epoch, best=best, train_epoch=train_epoch, validate=validate,
               meta=meta, describe=describe_epoch, lower_is_better=True,
               baseline={"baseline_NE": blind["NE"]} if blind else None,
               monitor=monitor, preview=preview)  # fmt: skip
    if parallel.is_main:
        log.info("done: best NE %.2f%% at epoch %d; outputs in %s", best["NE"], best["epoch"],
                 save_dir)  # fmt: skip
    return 0


def describe_epoch(record: dict) -> str:
    score = f", NE {record['NE']:.2f}%" if "NE" in record else ""
    if score and "baseline_NE" in record:
        score += f" (image-blind {record['baseline_NE']:.2f}%)"
    return (f"epoch {record['epoch']}: loss {record['train_loss']:.6f}, "
            f"{record['img_per_s']:.1f} img/s, lr {record['lr']:.2e}{score}")  # fmt: skip


def run(argv=None) -> int:
    return run_tool(main, parse_args(argv), "train_keypoints")


if __name__ == "__main__":
    sys.exit(run())
