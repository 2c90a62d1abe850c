"""GluonCV's command lines, accepted as they are written.

A user of GluonCV's scripts (``scripts/segmentation/train.py``,
``scripts/instance/mask_rcnn/train_mask_rcnn.py``, ``scripts/detection/*/train_*.py``,
``scripts/pose/simple_pose/train_simple_pose.py``) or of the earlier garment projects types
their flag names. ``translate`` rewrites those into this project's flags before argparse
reads them, converting values where the meaning differs (``--gpus 0,1`` is a device list,
``--input-size 256,192`` a pair, ``--model simple_pose_resnet18_v1b`` names the network), and
returns one note per conversion, which the script logs. A GluonCV flag whose value this
project cannot honour is an error that says so, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gluonext.errors import GluonextError


class FlagError(GluonextError, ValueError):
    """A GluonCV flag that cannot be honoured as given."""


@dataclass(frozen=True)
class Alias:
    native: str | None  # the flag it becomes (None: handled by ``convert`` alone)
    takes_value: bool = True
    convert: Callable[[str], list[str]] | None = None  # value -> native argv words
    note: str = ""  # what is worth telling the user about the conversion


def gpus_to_ctx(value: str) -> list[str]:
    """GluonCV's ``--gpus 0,1`` (or ``''`` for the CPU) as ``--ctx gpu:0,gpu:1``."""
    ids = [v.strip() for v in value.split(",") if v.strip()]
    if not ids:
        return ["--ctx", "cpu"]
    if not all(v.isdigit() for v in ids):
        raise FlagError(f"--gpus {value!r}: expected GPU ids such as 0,1 (or '' for the CPU)")
    return ["--ctx", ",".join(f"gpu:{v}" for v in ids)]


def mode_to_hybridize(value: str) -> list[str]:
    """GluonCV's ``--mode hybrid|imperative`` (``symbolic`` is refused: no Module API)."""
    if value == "hybrid":
        return ["--hybridize"]
    if value == "imperative":
        return ["--no-hybridize"]
    raise FlagError(f"--mode {value!r}: this project runs Gluon blocks: hybrid or imperative")


def no_cuda(_: str) -> list[str]:
    return ["--ctx", "cpu"]


def same(flag: str, note: str = "") -> Alias:
    return Alias(flag, note=note)


def switch(flag: str, note: str = "") -> Alias:
    return Alias(flag, takes_value=False, note=note)


# every training script: GluonCV's spellings of the shared run flags
SHARED = {
    "--gpus": Alias(None, convert=gpus_to_ctx, note="GluonCV's GPU list as --ctx"),
    "--num-workers": same("--workers"),
    "--num-data-workers": same("--workers"),
    "--kv-store": same("--kvstore"),
    "--save-prefix": same(
        "--save-dir", "GluonCV's file-name prefix is this project's run folder: checkpoints, "
        "metrics.jsonl and train.log go inside it"),
    "--dataset-root": same("--data-root"),
    "--data-dir": same("--data-root"),
    "--disable-hybridization": switch("--no-hybridize"),
    "--mode": Alias(None, convert=mode_to_hybridize),
    "--no-cuda": Alias(None, takes_value=False, convert=no_cuda),
    "--num-epochs": same("--epochs"),
    "--start_epoch": same("--start-epoch"),
    "--num-gpus": same("--ngpus"),
    "--logging-file": same("--log-file"),
}  # fmt: skip


def translate(argv: list[str], aliases: dict[str, Alias]) -> tuple[list[str], list[str]]:
    """``argv`` with GluonCV spellings replaced, and a note per conversion made."""
    table = {**SHARED, **aliases}
    out, notes, k = [], [], 0
    while k < len(argv):
        word = argv[k]
        flag, has_inline, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        alias = table.get(flag)
        if alias is None:
            out.append(word)
            k += 1
            continue
        value = None
        if alias.takes_value:
            if has_inline:
                value = inline
            elif k + 1 < len(argv):
                value, k = argv[k + 1], k + 1
            else:
                raise FlagError(f"{flag} needs a value")
        k += 1
        words = alias.convert(value if value is not None else "") if alias.convert else (
            [alias.native] + ([value] if alias.takes_value else []))  # fmt: skip
        out.extend(words)
        shown = f"{flag} {value}" if value is not None else flag
        notes.append(f"{shown} -> {' '.join(words)}" + (f" ({alias.note})" if alias.note else ""))
    return out, notes


def refused(flag: str, why: str) -> Alias:
    """A GluonCV flag this project does not honour: an error naming why, not a silent no-op."""

    def convert(_value):
        raise FlagError(f"{flag}: {why}")

    return Alias(None, convert=convert)


def accepted(flag: str, why: str, takes_value: bool = True) -> Alias:
    """A GluonCV flag for a mechanism this project does not need: accepted, and the note
    says why it changes nothing."""
    return Alias(None, takes_value=takes_value, convert=lambda _value: [], note=why)


def pose_model(value: str) -> list[str]:
    """``simple_pose_resnet18_v1b`` / ``mobile_pose_mobilenet1.0`` (GluonCV's model names) as
    ``--model simple_pose --network resnet18_v1b``; a native family name passes through."""
    if value in ("simple_pose", "mobile_pose"):
        return ["--model", value]
    for family in ("simple_pose", "mobile_pose"):
        if value.startswith(family + "_"):
            return ["--model", family, "--network", value[len(family) + 1 :]]
    raise FlagError(
        f"--model {value!r}: this script trains GluonCV's simple_pose_<resnet> and "
        "mobile_pose_<network> models"
    )


def height_width(value: str) -> list[str]:
    """GluonCV's ``--input-size 256,192`` (height, width) as ``--input-size 256x192``."""
    return ["--input-size", value.replace(",", "x")]


def imagenet_only(flag: str, default: str):
    def convert(value):
        wanted = [float(v) for v in default.split(",")]
        try:
            given = [float(v) for v in value.split(",")]
        except ValueError:
            given = None
        if (
            given is None
            or len(given) != 3
            or any(abs(a - b) > 1e-6 for a, b in zip(given, wanted, strict=False))
        ):
            raise FlagError(
                f"{flag} {value}: the models here are trained with ImageNet's {default}"
            )
        return []

    return Alias(None, convert=convert, note="ImageNet normalisation, as here")


STATIC_ALLOC = accepted("--static-alloc", "hybridized blocks always use static_alloc here",
                        takes_value=False)  # fmt: skip
EXECUTOR_THREADS = accepted(
    "--executor-threads", "MXNet's engine threads: set MXNET_CPU_WORKER_NTHREADS or OMP_NUM_THREADS"
)
VERBOSE = accepted("--verbose", "every setting is logged at the start of train.log",
                   takes_value=False)  # fmt: skip

SEGMENTATION_ALIASES = {
    "--weight-decay": same("--weight-decay"),
    "--lr-policy": same("--lr-mode", "the clothing parser's --lr-policy"),
    "--norm-layer": refused("--norm-layer", "use --syncbn for synchronised BatchNorm"),
}

DETECTION_ALIASES = {
    "--num-samples": accepted("--num-samples", "the training images are counted from the data"),
    "--norm-layer": refused("--norm-layer", "use --syncbn for synchronised BatchNorm"),
    "--lr-warmup": same("--warmup-epochs", "GluonCV's Faster R-CNN counts warmup in "
                        "iterations; give epochs here (iterations / iterations per epoch)"),
    "--dali": refused("--dali", "NVIDIA DALI loading is not wired in; the loaders here are "
                      "multi-process Gluon DataLoaders (--workers)"),
    "--static-alloc": STATIC_ALLOC,
    "--executor-threads": EXECUTOR_THREADS,
    "--verbose": VERBOSE,
}  # fmt: skip

MASK_RCNN_ALIASES = {
    "--image-short": same("--short", "the iMaterialist project's spelling"),
    "--image-max-size": same("--max-size", "the iMaterialist project's spelling"),
    "--rpn-test-pre-nms": same("--rpn-pre-nms", "one cap for training and test here"),
    "--rpn-test-post-nms": same("--rpn-post-nms", "one cap for training and test here"),
    "--rpn-train-pre-nms": same("--rpn-pre-nms", "one cap for training and test here"),
    "--rpn-train-post-nms": same("--rpn-post-nms", "one cap for training and test here"),
    "--norm-layer": refused("--norm-layer", "BatchNorm is frozen (ImageNet weights) or batch "
                            "statistics (from scratch) by the recipe"),
    "--use-ext": accepted("--use-ext", "GluonCV's C++ COCO evaluation: pycocotools here",
                          takes_value=False),
    "--static-alloc": STATIC_ALLOC,
    "--executor-threads": EXECUTOR_THREADS,
    "--verbose": VERBOSE,
}  # fmt: skip

KEYPOINT_ALIASES = {
    "--model": Alias(None, convert=pose_model),
    "--input-size": Alias(None, convert=height_width),
    "--use-pretrained-base": Alias("--pretrained-base", takes_value=False,
                                   convert=lambda _v: ["--pretrained-base", "zoo"],
                                   note="GluonCV's ImageNet file from ~/.mxnet/models"),
    "--mean": imagenet_only("--mean", "0.485,0.456,0.406"),
    "--std": imagenet_only("--std", "0.229,0.224,0.225"),
    "--last-gamma": refused("--last-gamma", "zero-initialised last BatchNorm gamma is not "
                            "offered for SimplePose here"),
    "--save-frequency": same("--save-interval"),
}  # fmt: skip
