"""Pretraining a GluonCV ImageNet classifier on garment pictures, saved in its ImageNet layout.

No ImageNet weights can be downloaded where this project is tested, yet real users start every
recipe from them. ``pretrain`` trains GluonCV's own classifier (``resnet18_v1b``,
``mobilenet0.25``, ...: the constructor whose ImageNet ``.params`` the recipes load) to say
which of the 13 main garments a picture shows (its first 13 outputs, sigmoid cross-entropy;
the other 987 keep their initial weights), within a time budget, and writes ``save_parameters``
of that very network: the names and shapes of GluonCV's ImageNet files, so ``--pretrained-base``
loads it along the real path. Held-out label accuracy and mean AP are reported beside a
predictor that knows only each garment's frequency.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from gluonext.common.files import write_json
from gluonext.common.splits import split_by_image
from gluonext.engine.checkpoint import export_params
from gluonext.errors import ModelError
from gluonext.pretrain.data import GarmentLabels, read_garment_labels

NETWORKS = (
    "resnet18_v1b", "resnet34_v1b", "resnet50_v1b", "resnet50_v1s", "resnet101_v1d",
    "mobilenet0.25", "mobilenet0.5", "mobilenet1.0",
)  # fmt: skip
log = logging.getLogger(__name__)


@dataclass
class PretrainOptions:
    network: str
    output: Path
    data: Path
    seed: int = 0
    minutes: float = 10.0
    max_epochs: int = 1000
    size: int = 96
    batch_size: int = 32
    lr: float = 0.002
    val_ratio: float = 0.1
    ctx: str = "cpu"
    progress: bool = True


def build_classifier(network: str) -> gluon.HybridBlock:
    """GluonCV's ImageNet classifier ``network`` (1000 classes), freshly initialised."""
    import gluoncv

    if network not in NETWORKS:
        raise ModelError(f"--network {network!r}: choose from {', '.join(NETWORKS)}")
    net = gluoncv.model_zoo.get_model(network, pretrained=False)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    return net


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """AP of one label: mean precision at each positive, best scores first (NaN if none)."""
    if not truth.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = truth[order] > 0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def score(probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """Per-label accuracy at 0.5, exact-match accuracy and mean AP over labels."""
    guess = probabilities >= 0.5
    aps = [average_precision(probabilities[:, k], truth[:, k]) for k in range(truth.shape[1])]
    return {
        "label_accuracy": float((guess == (truth > 0)).mean()),
        "exact_match": float((guess == (truth > 0)).all(axis=1).mean()),
        "mean_ap": float(np.nanmean(aps)) if np.isfinite(aps).any() else 0.0,
    }


def _batches(dataset, indices, batch_size: int):
    for start in range(0, len(indices) - batch_size + 1, batch_size):
        items = [
            dataset[(int(i), int(i) * 7919 + start)] for i in indices[start : start + batch_size]
        ]
        yield (
            mx.nd.array(np.stack([x for x, _ in items])),
            mx.nd.array(np.stack([y for _, y in items])),
        )


def _predict(net, dataset, ctx, batch_size: int) -> np.ndarray:
    out = []
    for start in range(0, len(dataset), batch_size):
        images = np.stack(
            [dataset[i][0] for i in range(start, min(len(dataset), start + batch_size))]
        )
        logits = net(mx.nd.array(images, ctx=ctx))[:, : dataset.labels.shape[1]]
        out.append(mx.nd.sigmoid(logits).asnumpy())
    return np.concatenate(out)


def pretrain(options: PretrainOptions) -> dict:
    """Train within ``options.minutes``; write ``options.output`` (``.params``) and a JSON
    report beside it; return the report."""
    from gluonext.engine.devices import parse_contexts

    ctx = parse_contexts(ctx=options.ctx)[0]
    names, labels = read_garment_labels(options.data)
    train_names, val_names = split_by_image(names, 1.0 - options.val_ratio, options.seed)
    index = {name: k for k, name in enumerate(names)}
    train_rows, val_rows = [index[n] for n in train_names], [index[n] for n in val_names]
    image_dir = Path(options.data) / "train"
    train = GarmentLabels(image_dir, train_names, labels[train_rows], options.size, True)
    val = GarmentLabels(image_dir, val_names, labels[val_rows], options.size, False)
    mx.random.seed(options.seed)
    net = build_classifier(options.network)
    net.collect_params().reset_ctx(ctx)
    net.hybridize(static_alloc=True)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": options.lr})
    loss_fn = gluon.loss.SigmoidBinaryCrossEntropyLoss()
    classes = labels.shape[1]
    start, epoch, deadline = time.perf_counter(), 0, time.perf_counter() + 60 * options.minutes
    while epoch < options.max_epochs and time.perf_counter() < deadline:
        epoch += 1
        order = np.random.RandomState(options.seed * 1000 + epoch).permutation(len(train))
        total, seen = 0.0, 0
        bar = tqdm(
            _batches(train, order, options.batch_size),
            desc=f"epoch {epoch}",
            total=len(train) // options.batch_size,
            disable=not options.progress,
            leave=False,
        )
        for images, targets in bar:
            with autograd.record():
                loss = loss_fn(
                    net(images.as_in_context(ctx))[:, :classes], targets.as_in_context(ctx)
                )
            loss.backward()
            trainer.step(images.shape[0])
            total, seen = total + float(loss.mean().asscalar()), seen + 1
            if time.perf_counter() >= deadline:
                break
        log.info("epoch %d: loss %.4f", epoch, total / max(1, seen))
    held_out = score(_predict(net, val, ctx, options.batch_size), val.labels)
    frequency = np.broadcast_to(train.labels.mean(axis=0), val.labels.shape)
    report = {
        "network": options.network,
        "epochs": epoch,
        "seconds": round(time.perf_counter() - start, 1),
        "train_images": len(train),
        "held_out_images": len(val),
        "held_out": held_out,
        "frequency_baseline": score(np.ascontiguousarray(frequency), val.labels),
        "output": str(options.output),
    }
    export_params(options.output, net)
    write_json(Path(options.output).with_suffix(".json"), report, indent=2)
    return report
