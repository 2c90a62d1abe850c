"""A checkpoint's own data, read again from the flags its training run was given: training
images to calibrate a quantized model on, and the held-out split with its labels to score
a model of any backend with the task's own metric (mIoU, VOC07 mAP, NE, mask AP) or to tune
the instance task's post-processing on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from gluonext.deploy.predictor import task_of_checkpoint
from gluonext.engine.checkpoint import read_meta
from gluonext.errors import DatasetError, ModelError


@dataclass
class Metric:
    name: str
    higher_is_better: bool

    def drop(self, reference: float, other: float) -> float:
        """How much worse ``other`` is than ``reference``, in the metric's points (>= 0 is a
        loss; negative a gain)."""
        return reference - other if self.higher_is_better else other - reference


METRICS = {
    "segmentation": Metric("mIoU (points)", True),
    "detection": Metric("VOC07 mAP (points)", True),
    "keypoints": Metric("NE (%)", False),
    "instances": Metric("mask AP (points)", True),
}


# data flags newer than some checkpoints, at their defaults (what such a run read)
ADDED_FLAGS = {
    "segmentation": {"train_json": None, "val_json": None, "image_dir": None, "overlap": "area",
                     "mask_dir": None, "classes": None, "ignore_value": 255},
    "instances": {"train_json": None, "val_json": None, "image_dir": None},
    "detection": {"val_root": None, "image_dir": None, "train_splits": None,
                  "val_splits": None, "classes": None},
}  # fmt: skip


@dataclass
class RunData:
    task: str
    train: object  # a dataset: ``load(index)`` gives the image first
    held_out: object
    metric: Metric

    def calibration_images(self, count: int, seed: int = 0) -> list[np.ndarray]:
        """``count`` training images (fewer if the split is smaller), a seeded draw."""
        picked = np.random.RandomState(seed).permutation(len(self.train))[:count]
        return [self.train.load(int(index))[0] for index in sorted(picked)]

    def score(self, predictor, limit: int | None = None, progress=None) -> float:
        """The task's metric of ``predictor`` on the first ``limit`` held-out images."""
        count = len(self.held_out) if limit is None else min(limit, len(self.held_out))
        indices = range(count)
        if progress:
            indices = progress(indices)
        found = _scorer(self.task)(predictor, self.held_out, indices)
        if self.task == "segmentation":
            return 100.0 * found.mean_iou
        return found if self.task == "keypoints" else 100.0 * found  # NE is in % already


def _scorer(task: str):
    """The task's ``score_predictor`` (``gluonext.<task>.evaluate``)."""
    from importlib import import_module

    package = "instance" if task == "instances" else task
    return import_module(f"gluonext.{package}.evaluate").score_predictor


def run_data(checkpoint, data_root=None) -> RunData:
    """The training and held-out splits of ``checkpoint``'s run (``data_root`` replaces the
    run's own, for data that has moved since)."""
    meta = read_meta(checkpoint)
    if "args" not in meta:
        raise ModelError(f"{checkpoint}: the checkpoint does not record its run's flags")
    task = task_of_checkpoint(meta, checkpoint)
    args = SimpleNamespace(**{**ADDED_FLAGS.get(task, {}), **meta["args"]})
    if data_root is not None:
        if not Path(data_root).is_dir():
            raise DatasetError(f"--data-root {data_root}: no such folder")
        args.data_root = str(data_root)
    if not Path(args.data_root).is_dir():
        raise DatasetError(
            f"{checkpoint}: its training data {args.data_root} is not there; give --data-root"
        )
    train, held_out = _splits(task, args, meta)
    if not len(held_out):
        raise DatasetError(f"{args.data_root}: the run's held-out split is empty")
    return RunData(task, train, held_out, METRICS[task])


def _splits(task: str, args, meta: dict):
    if task == "segmentation":
        from gluonext.segmentation.data import run_datasets

        return run_datasets(args, "testval")
    if task == "instances":
        from gluonext.instance.data import InstanceDataset

        sources = {"image_dir": args.image_dir, "categories": args.categories,
                   "skip_bad": args.skip_bad}  # fmt: skip
        return (InstanceDataset(args.data_root, "train", annotation_file=args.train_json,
                                **sources),
                InstanceDataset(args.data_root, "val", annotation_file=args.val_json,
                                **sources))  # fmt: skip
    if task == "keypoints":
        from gluonext.keypoints.data import fashionai_splits

        train, val, _ = fashionai_splits(
            args.data_root, args.category, args.train_csv, args.val_csv, args.val_ratio,
            args.seed, args.skip_bad)  # fmt: skip
        return train, val
    from gluonext.detection.data import run_datasets
    from gluonext.instance.data import InstanceDataset

    train, val, _ = run_datasets(args, InstanceDataset, meta.get("classes"))
    return train, val
