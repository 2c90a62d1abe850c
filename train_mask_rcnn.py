#!/usr/bin/env python
"""Train Mask R-CNN for garment instance segmentation on COCO JSON (GluonCV's recipe).

    python train_mask_rcnn.py --network resnet50_v1b --use-fpn --data-root datasets/imaterialist \
        --categories all --ngpus 8 --batch-size 8
    python train_mask_rcnn.py --network resnet18_v1b --use-fpn --ctx cpu:0,cpu:1 \
        --short 320 --max-size 512 --categories main
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from mxnet import autograd
from tqdm import tqdm

from gluonext.common.cli import (
    add_run_flags,
    add_schedule_flags,
    epoch_list,
    positive_float,
    positive_int,
    run_tool,
    scale_list,
    short_side,
)
from gluonext.common.coco_eval import category_table, coco_evaluate
from gluonext.common.gluoncv_cli import MASK_RCNN_ALIASES, translate
from gluonext.engine.checkpoint import batches_to_skip, continue_or_start, load_for_eval
from gluonext.engine.devices import create_trainer, epoch_loader, split_batch
from gluonext.engine.loop import fit
from gluonext.engine.monitor import Monitor
from gluonext.engine.precision import backward, start_amp
from gluonext.engine.schedules import schedule_from_args
from gluonext.engine.session import start_run
from gluonext.engine.tracking import check_finite
from gluonext.errors import DatasetError, DeviceError
from gluonext.formats.coco import check_split_pair
from gluonext.instance.attribute_eval import score_attributes
from gluonext.instance.attribute_head import add_attribute_head
from gluonext.instance.attributes import category_log_odds, frequency_baseline
from gluonext.instance.baseline import evaluate_baseline
from gluonext.instance.competition import score_results
from gluonext.instance.data import InstanceDataset
from gluonext.instance.evaluate import predict_instances, preview_instances, to_coco_results
from gluonext.instance.loss import MaskRCNNLoss
from gluonext.instance.model import build_mask_rcnn
from gluonext.instance.tta import predict_with_passes
from gluonext.rcnn.model import NETWORKS, initialize, load_model_zoo_rcnn
from gluonext.rcnn.presets import MaskRCNNTrainTransform, MaskRCNNValTransform

log = logging.getLogger("train_mask_rcnn")


def parse_args(argv=None) -> argparse.Namespace:
    argv, notes = translate(list(sys.argv[1:] if argv is None else argv), MASK_RCNN_ALIASES)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--network", default="resnet50_v1b", choices=sorted(NETWORKS))
    p.add_argument("--use-fpn", action="store_true", help="feature pyramid network")
    p.add_argument("--dataset", default="imaterialist", help="name used in the run folder")
    p.add_argument("--data-root", "--data_root", dest="data_root", default="datasets/imaterialist")
    p.add_argument(
        "--categories", default="all", help="all (46), main (13 main apparel) or ids 0,1,10"
    )
    p.add_argument("--train-json", default=None, help="default DATA_ROOT/annotations/...train")
    p.add_argument("--val-json", default=None, help="default DATA_ROOT/annotations/...val")
    p.add_argument("--image-dir", default=None, help="default DATA_ROOT/train")
    p.add_argument(
        "--model-zoo",
        default=None,
        help="fine-tune GluonCV's pretrained COCO model, e.g. mask_rcnn_fpn_resnet50_v1b_coco",
    )
    p.add_argument("--pretrained-base", default=None, metavar="FILE", help="ImageNet .params")
    p.add_argument("--short", type=short_side, default=(800, 800), help="short side or LOW,HIGH")
    p.add_argument("--max-size", type=positive_int, default=1333, help="longest side")
    p.add_argument("--flip-test", action="store_true",
                   help="evaluate with mirrored passes too, merged by box and mask voting")
    p.add_argument("--scales", type=scale_list, default=(1.0,),
                   help="evaluation scales of the short side, e.g. 0.8,1,1.2")
    p.add_argument("--attributes", action="store_true",
                   help="add Fashionpedia's attribute head, trained from each annotation's "
                        "attribute_ids (the JSON's attributes list: 92 in 2019, 294 in 2020)")
    p.add_argument("--attribute-loss-weight", type=positive_float, default=0.25,
                   help="weight of the attribute loss (summed over attributes) beside the box "
                        "and mask terms; 1 diverged within 60 iterations at lr 0.01")
    p.add_argument(
        "--rcnn-num-samples", type=positive_int, default=None, help="RoIs per image (GluonCV's)"
    )
    p.add_argument("--rpn-pre-nms", type=positive_int, default=None, help="cap on proposals")
    p.add_argument("--rpn-post-nms", type=positive_int, default=None, help="cap after NMS")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="images per step over all devices and workers (default: one per device)",
    )
    p.add_argument("--epochs", type=positive_int, default=26)
    p.add_argument("--lr", type=positive_float, default=None, help="default 0.00125 x batch")
    p.add_argument("--lr-decay", type=positive_float, default=0.1)
    p.add_argument("--lr-decay-epoch", type=epoch_list, default=(17, 23))
    p.add_argument(
        "--lr-warmup",
        type=int,
        default=None,
        help="warmup iterations (GluonCV: max(8000 / batch, 1000); capped at one epoch here)",
    )
    p.add_argument("--lr-warmup-factor", type=float, default=1.0 / 3)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--clip-gradient", type=float, default=-1.0, help="off when <= 0")
    p.add_argument("--horovod", action="store_true", help="one process per GPU under horovodrun")
    add_schedule_flags(p, "step")
    add_run_flags(p, seed=233, save_dir="runs/mask_rcnn/<run name>")
    args = p.parse_args(argv)
    args.gluoncv_notes = notes
    return args


def build_net(args, classes, contexts, per_device, num_attributes: int = 0):
    if args.model_zoo:
        net = load_model_zoo_rcnn(args.model_zoo, classes, args.short, args.max_size, per_device)
        if num_attributes:
            add_attribute_head(net, num_attributes)
    else:
        net = build_mask_rcnn(
            args.network,
            classes,
            args.use_fpn,
            args.short,
            args.max_size,
            args.pretrained_base,
            per_device,
            args.rcnn_num_samples,
            args.rpn_pre_nms,
            args.rpn_post_nms,
            num_attributes=num_attributes,
        )
    initialize(net, contexts)
    fixed = {name for name, p in net.collect_params().items() if p.grad_req == "null"}
    net.collect_params().setattr("grad_req", "null")
    for name, param in net.collect_train_params().items():
        if name not in fixed:  # BatchNorm running statistics and anchors stay fixed
            param.grad_req = "write"
    for param in net.collect_params(".*bias").values():
        param.wd_mult = 0.0
    return net


def train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor) -> dict:
    """One pass over this worker's shard; mean losses, images/s, final lr."""
    if args.hybridize:
        net.hybridize(static_alloc=True)
    totals = dict.fromkeys(("loss", *loss_fn.PARTS), 0.0)
    steps, seen, start = 0, 0, time.perf_counter()
    per_epoch = len(loader) + loader.skipped  # a resumed epoch starts past its first batches
    bar = tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)
    for iteration, batch in enumerate(bar, start=loader.skipped):
        per_device = zip(*[_shards(b) for b in batch], strict=True)
        shards = [
            [x.as_in_context(ctx) for x in items]
            for ctx, items in zip(contexts, per_device, strict=False)  # a short last batch
        ]
        with autograd.record():
            results = [loss_fn(net, *items) for items in shards]
        backward([r[0] for r in results], trainer)
        trainer.step(args.batch_size)
        loss = sum(r[0].asscalar() for r in results)
        check_finite(loss, epoch, iteration)
        monitor.iteration(epoch, iteration, per_epoch, {"loss": loss}, trainer.learning_rate,
                          sum(items[0].shape[0] for items in shards))  # fmt: skip
        totals["loss"] += loss
        for k, name in enumerate(loss_fn.PARTS):
            totals[name] += sum(r[1][k].asscalar() for r in results)
        steps += 1
        seen += sum(items[0].shape[0] for items in shards)
        bar.set_postfix(loss=f"{totals['loss'] / steps:.3f}", lr=f"{trainer.learning_rate:.2e}")
    seconds = time.perf_counter() - start
    record = {
        ("train_loss" if k == "loss" else f"train_loss_{k}"): v / max(steps, 1)
        for k, v in totals.items()
    }
    record.update(lr=trainer.learning_rate, img_per_s=seen / seconds if seconds else 0.0)
    record["seconds"] = seconds
    return record


def _shards(x):
    return x if isinstance(x, (list, tuple)) else [x]


def evaluate(net, dataset, ctx, short, max_size, show=True, hybridize=True, flip=False,
             scales=(1.0,), attribute_sets=None) -> tuple[dict, list]:  # fmt: skip
    """COCO box and mask AP on every validation image at its original resolution (with
    test-time passes: ``flip``, ``scales``); with an attribute head, its figures
    (``scores["attributes"]``) against the frequency sets ``attribute_sets``."""
    if hybridize:
        net.hybridize(static_alloc=True)
    transform = MaskRCNNValTransform(short, max_size)
    results = []
    for index in tqdm(range(len(dataset)), desc="val", disable=not show, leave=False):
        image, _label, _segs = dataset.load(index)
        if flip or tuple(scales) != (1.0,):
            found = predict_with_passes(net, image, transform, ctx, flip=flip, scales=scales)
        else:
            found = predict_instances(net, image, transform, ctx)
        results.extend(to_coco_results(dataset.images[index]["id"], found, dataset.category_ids,
                                       dataset.vocabulary))  # fmt: skip
    scores = coco_evaluate(dataset.coco(), results, dataset.image_ids, dataset.category_ids)
    if dataset.vocabulary is not None:
        scores["attributes"] = score_attributes(dataset, results, attribute_sets or {})
    return scores, results


def main(args) -> int:
    name = f"{'fpn_' if args.use_fpn else ''}{args.network}"
    run_name = f"{args.dataset}_{args.categories.replace(',', '-')}_mask_rcnn_{name}"
    save_dir = Path(args.save_dir or Path("runs") / "mask_rcnn" / run_name)
    contexts, parallel, show = start_run(args, save_dir)
    amp = start_amp(args, contexts)
    train_set, val_set = get_datasets(args)
    per_device = per_device_batch(args, len(contexts), parallel.num_workers)
    vocabulary = train_set.vocabulary
    net = build_net(args, list(train_set.CLASSES), contexts, per_device,
                    len(vocabulary) if vocabulary else 0)  # fmt: skip
    attribute_sets = None
    if vocabulary:
        annotations = train_set.all_annotations()
        attribute_sets = frequency_baseline(annotations, vocabulary)
        prior = category_log_odds(annotations, vocabulary, train_set.category_ids,
                                  str(train_set.annotation_file))  # fmt: skip
        net.mask.set_attribute_prior(prior)
    blind = report_baseline(train_set, val_set, attribute_sets) if parallel.is_main else None
    short_val = args.short[1]

    if args.eval:
        meta = load_for_eval(args, net)
        scores, results = evaluate(net, val_set, contexts[0], short_val, args.max_size, show,
                                   flip=args.flip_test, scales=args.scales,
                                   attribute_sets=attribute_sets)  # fmt: skip
        log_scores(f"evaluated {args.resume} (epoch {meta.get('epoch')})", scores, val_set, blind)
        kaggle = score_results(val_set, results)
        log.info("iMaterialist competition score %.4f over %d (image, class) pairs (scores >= "
                 "0.5, masks made disjoint as the submission)", kaggle.score, kaggle.pairs)
        return 0

    local_batch, iters_per_epoch = split_batch(args.batch_size, len(train_set), parallel)
    lr = args.lr or 0.00125 * args.batch_size
    warmup = args.lr_warmup
    if warmup is None:
        warmup = min(max(8000 // args.batch_size, 1000), iters_per_epoch)
    trainer = make_trainer(args, net, parallel, lr, warmup, iters_per_epoch, amp)
    loss_fn = MaskRCNNLoss(attribute_weight=args.attribute_loss_weight if vocabulary else 0.0)
    best = {"mask_AP": -1.0, "epoch": 0}
    start_epoch, best, history = continue_or_start(
        args, net, trainer, save_dir, best, parallel.is_main
    )
    log.info("train: %s", train_set.summary())
    log.info("val: %s", val_set.summary())
    log.info("%s: %s, batch %d (%d per device), %d iterations per epoch, lr %.4g, warmup %d",
             run_name, ",".join(map(str, contexts)), args.batch_size, per_device,
             iters_per_epoch, lr, warmup)  # fmt: skip

    from gluoncv.data.batchify import MaskRCNNTrainBatchify

    train_set.transform_fn = MaskRCNNTrainTransform(
        net, args.short, args.max_size, multi_stage=args.use_fpn
    )
    batchify = MaskRCNNTrainBatchify(net, len(contexts))

    monitor = Monitor(args, save_dir, parallel.is_main)

    def preview(epoch):
        transform = MaskRCNNValTransform(short_val, args.max_size)
        return preview_instances(net, val_set, transform, contexts[0])

    def train_epoch(epoch):
        loader = epoch_loader(
            train_set, parallel, local_batch, args.seed, epoch, args.workers, batchify,
            skip=batches_to_skip(args, epoch),
        )  # fmt: skip
        return train_one_epoch(net, loader, loss_fn, trainer, contexts, epoch, args, show, monitor)

    def validate(epoch):
        scores, _ = evaluate(net, val_set, contexts[0], short_val, args.max_size, show,
                             args.hybridize, args.flip_test, args.scales,
                             attribute_sets)  # fmt: skip
        log_scores(f"epoch {epoch} validation", scores, val_set, blind)
        entries = {f"bbox_{k}": v for k, v in scores["bbox"].items()}
        entries.update({f"mask_{k}": v for k, v in scores["segm"].items()})
        entries.update(scores.get("attributes", {}))
        return entries, scores["segm"]["AP"]

    best = fit(args, net, trainer, parallel, save_dir=save_dir, history=history, title=run_name,
               start_epoch=start_epoch, best=best, train_epoch=train_epoch, validate=validate,
               meta=checkpoint_meta(args, train_set), describe=describe_epoch,
               baseline=baseline_entries(blind), monitor=monitor, preview=preview)  # fmt: skip
    if parallel.is_main:
        log.info("done: best mask AP %.4f at epoch %d; outputs in %s", best["mask_AP"],
                 best["epoch"], save_dir)  # fmt: skip
    return 0


def get_datasets(args):
    """The converter's (or any) COCO instance files; both must define the same categories."""
    sources = {
        "image_dir": args.image_dir,
        "categories": args.categories,
        "skip_bad": args.skip_bad,
        "attributes": args.attributes,
    }
    train_set = InstanceDataset(args.data_root, "train", annotation_file=args.train_json, **sources)
    val_set = InstanceDataset(args.data_root, "val", annotation_file=args.val_json, **sources)
    if list(val_set.CLASSES) != list(train_set.CLASSES):
        raise DatasetError("train and val JSON files define different categories")
    if args.attributes and train_set.vocabulary.ids != val_set.vocabulary.ids:
        raise DatasetError("train and val JSON files define different attribute lists")
    check_split_pair(train_set, val_set)
    return train_set, val_set


def per_device_batch(args, num_contexts: int, num_workers: int) -> int:
    """Images per device; ``--batch-size`` defaults to one per device (GluonCV's recipe)."""
    devices = num_contexts * num_workers
    args.batch_size = args.batch_size or devices
    if args.batch_size % devices:
        raise DeviceError(
            f"--batch-size {args.batch_size} must split evenly over {num_contexts} device(s) "
            f"x {num_workers} worker(s) (GluonCV: one image per device)"
        )
    return args.batch_size // devices


def make_trainer(args, net, parallel, lr: float, warmup: int, iters_per_epoch: int, amp):
    """GluonCV's Mask R-CNN optimiser: SGD, warmup from ``--lr-warmup-factor``, step decay;
    only the parameters the recipe trains."""
    schedule = schedule_from_args(
        args, lr, iters_per_epoch, "step", args.lr_warmup_factor, warmup / iters_per_epoch,
        args.lr_decay_epoch, args.lr_decay,
    )  # fmt: skip
    opt_params = {"learning_rate": lr, "wd": args.wd, "momentum": args.momentum}
    opt_params["lr_scheduler"] = schedule
    if args.clip_gradient > 0:
        opt_params["clip_gradient"] = args.clip_gradient
    trainable = {k: p for k, p in net.collect_params().items() if p.grad_req != "null"}
    return create_trainer(trainable, "sgd", opt_params, parallel, amp)


def checkpoint_meta(args, train_set) -> dict:
    """What a checkpoint needs to rebuild its network and name its classes."""
    return {
        "args": dict(vars(args)),
        "classes": list(train_set.CLASSES),
        "category_ids": train_set.category_ids,
        "network": args.network,
        "use_fpn": args.use_fpn,
        "model_zoo": args.model_zoo,
        "short": list(args.short),
        "max_size": args.max_size,
        "num_sample": args.rcnn_num_samples,
        "max_pre_nms": args.rpn_pre_nms,
        "max_post_nms": args.rpn_post_nms,
        "mask_head_norm": not (args.pretrained_base or args.model_zoo),
        "attributes": (
            [{"id": i, "name": n} for i, n in zip(train_set.vocabulary.ids,
                                                  train_set.vocabulary.names, strict=True)]
            if train_set.vocabulary else None
        ),  # fmt: skip
    }


def baseline_entries(blind: dict | None) -> dict | None:
    if blind is None:
        return None
    entries = {"baseline_mask_AP": blind["segm"]["AP"], "baseline_mask_AP50": blind["segm"]["AP50"]}
    if "attributes" in blind:
        entries["baseline_attr_AP_IoU_F1"] = blind["attributes"]["AP_IoU_F1"]
    return entries


def describe_epoch(record: dict) -> str:
    rpn_cls, rpn_box, rcnn_cls, rcnn_box, mask = (
        record[f"train_loss_{k}"] for k in MaskRCNNLoss.PARTS
    )
    score = f", mask AP {record['mask_AP']:.4f}" if "mask_AP" in record else ""
    attributes = record.get("train_loss_attributes")
    attributes = f", attributes {attributes:.3f}" if attributes is not None else ""
    if score and "baseline_mask_AP" in record:
        score += f" (image-blind {record['baseline_mask_AP']:.4f})"
    if "attr_F1" in record:
        score += (f", attribute F1 {record['attr_F1']:.4f} on {record['found']} garments found "
                  f"(frequency sets {record['baseline_attr_F1']:.4f}, difference's standard "
                  f"error {record['attr_F1_gain_se']:.4f}), AP IoU+F1 "
                  f"{record['attr_AP_IoU_F1']:.4f}")  # fmt: skip
    return (
        f"epoch {record['epoch']}: loss {record['train_loss']:.4f} (rpn {rpn_cls:.3f} + "
        f"{rpn_box:.3f}, rcnn {rcnn_cls:.3f} + {rcnn_box:.3f}, mask {mask:.3f}{attributes}), "
        f"{record['img_per_s']:.2f} img/s, lr {record['lr']:.2e}{score}"
    )


def report_baseline(train_set, val_set, attribute_sets=None) -> dict:
    """The image-blind baseline's COCO scores, logged: what a model must beat."""
    blind = evaluate_baseline(train_set, val_set, attribute_sets=attribute_sets)
    log.info("image-blind baseline (prior boxes per class with the class's mean mask, from "
             "the training annotations): mask AP %.4f, AP50 %.4f; box AP50 %.4f",
             blind["segm"]["AP"], blind["segm"]["AP50"], blind["bbox"]["AP50"])  # fmt: skip
    if "attributes" in blind:
        found = blind["attributes"]
        log.info("image-blind attributes (each category's most frequent attribute set): "
                 "Fashionpedia mask AP IoU+F1 %.4f, AP IoU50+F150 %.4f",
                 found["AP_IoU_F1"], found["AP_IoU50_F150"])  # fmt: skip
    return blind


def log_scores(title: str, scores: dict, dataset: InstanceDataset, blind=None) -> None:
    counts: dict = {}
    for anns in dataset.annotations:
        for ann in anns:
            counts[ann["category_id"]] = counts.get(ann["category_id"], 0) + 1
    names = dict(zip(dataset.category_ids, dataset.CLASSES, strict=True))
    lines = [
        f"{kind:>5}: " + "  ".join(f"{k} {v:.4f}" for k, v in scores[key].items())
        for kind, key in (("box", "bbox"), ("mask", "segm"))
    ]
    if "attributes" in scores:
        found = scores["attributes"]
        lines.append("attributes (Fashionpedia): " + "  ".join(
            f"{k[5:]} {found[k]:.4f}" for k in ("attr_AP_IoU_F1", "attr_AP_IoU50_F150",
                                                "attr_AP_IoU")) + f"; F1 {found['attr_F1']:.4f} "
            f"on {found['found']} of {found['garments']} garments found (frequency sets "
            f"{found['baseline_attr_F1']:.4f}, difference's standard error "
            f"{found['attr_F1_gain_se']:.4f})")  # fmt: skip
    log.info(
        "%s on %d images:\n%s\n%s",
        title,
        len(dataset),
        "\n".join(lines),
        category_table(scores["per_category"], names, counts, (blind or {}).get("per_category")),
    )


def run(argv=None) -> int:
    return run_tool(main, parse_args(argv), "train_mask_rcnn")


if __name__ == "__main__":
    sys.exit(run())
