"""argparse types shared by the scripts: bad values fail with a message naming the flag."""

from __future__ import annotations

import argparse
import sys


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def scale_list(text: str) -> tuple[float, ...]:
    """``0.75,1.0,1.25`` to a tuple of positive floats."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 0.75,1.0,1.25, got {text!r}"
        ) from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"scales must be positive numbers, got {text!r}")
    return values


def image_size(text: str, low: int = 1, high: int = 100_000) -> tuple[int, int]:
    """``WxH`` or ``W,H`` to (width, height)."""
    try:
        width, height = (int(v) for v in text.lower().replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 256x256, got {text!r}") from None
    if not (low <= width <= high and low <= height <= high):
        raise argparse.ArgumentTypeError(f"width and height must be {low}..{high}, got {text!r}")
    return width, height


def sample_image_size(text: str) -> tuple[int, int]:
    return image_size(text, 32, 4096)


def short_side(text: str) -> tuple[int, int]:
    """``800`` or a random range ``640,800`` (GluonCV's --image-short) to (low, high)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 800 or 640,800, got {text!r}") from None
    if len(values) not in (1, 2) or min(values) < 16 or values[0] > values[-1]:
        raise argparse.ArgumentTypeError(
            f"expected one size >= 16 or LOW,HIGH with LOW <= HIGH, got {text!r}"
        )
    return values[0], values[-1]


def epoch_list(text: str) -> tuple[float, ...]:
    """``17,23`` (epochs at which the learning rate decays) to a sorted tuple; may be empty."""
    try:
        values = tuple(sorted(float(v) for v in text.split(",") if v.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected epochs like 17,23, got {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"epochs must not be negative, got {text!r}")
    return values


def run_tool(main, args, name: str = "gluonext") -> int:
    """``main(args)`` of a tool or training script; an error the user can fix (a
    ``GluonextError``, or a path that cannot be read or written) is one line (logged under
    ``name``, or on stderr before any logging) and exit code 2, not a traceback. The log files
    the run opened are closed when it ends, so a second run in the same process (a notebook,
    a test) never writes into the first one's."""
    from gluonext.common.logs import close_logging

    close_logging()
    try:
        return _one_line_errors(main, args, name)
    finally:
        close_logging()


def _one_line_errors(main, args, name: str) -> int:
    import logging

    from gluonext.errors import GluonextError

    try:
        return main(args)
    except GluonextError as exc:
        message = str(exc)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
    if logging.getLogger().handlers:  # the tool's log is set up: the line goes there too
        logging.getLogger(name).error("error: %s", message)
    else:
        print(f"error: {message}", file=sys.stderr)
    return 2


def add_schedule_flags(parser: argparse.ArgumentParser, default_mode: str) -> None:
    """GluonCV's schedule flags, over the recipe's own schedule."""
    parser.add_argument(
        "--lr-mode",
        choices=("step", "poly", "cosine"),
        default=None,
        help=f"learning-rate schedule (default: the recipe's, {default_mode})",
    )
    parser.add_argument("--lr-power", type=positive_float, default=None, help="poly's power (0.9)")
    parser.add_argument(
        "--lr-decay-period",
        type=positive_int,
        default=None,
        help="step: decay every N epochs (instead of at --lr-decay-epoch)",
    )
    parser.add_argument(
        "--warmup-lr",
        type=float,
        default=None,
        help="the warmup's first LR (default: the recipe's)",
    )


def add_run_flags(
    parser: argparse.ArgumentParser, seed: int = 0, save_dir: str = "runs/..."
) -> None:
    """The flags every training script shares: devices, kvstore, loading, resume/eval, output."""
    parser.add_argument("--ngpus", type=int, default=0, help="use GPUs 0..N-1 (GluonCV's flag)")
    parser.add_argument("--ctx", default=None, help="devices, e.g. cpu, cpu:0,cpu:1 or gpu:0,gpu:1")
    parser.add_argument(
        "--kvstore",
        default="device",
        choices=("device", "local", "nccl", "dist_sync", "dist_device_sync"),
    )
    parser.add_argument("--workers", "-j", type=int, default=2, help="data-loading processes")
    parser.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="CKPT",
        help="weights of a checkpoint (any, e.g. checkpoint_best.ckpt of another run), a new "
        "schedule from epoch 1 (--resume continues a run exactly instead)",
    )
    parser.add_argument("--eval", action="store_true", help="evaluate --resume's weights and stop")
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave damaged images and malformed annotations out (counted in the log) "
        "instead of stopping at the first",
    )
    parser.add_argument(
        "--val-interval", type=positive_int, default=1, help="evaluate every N epochs"
    )
    parser.add_argument("--no-val", action="store_true")
    parser.add_argument("--save-dir", default=None, help=f"default {save_dir}")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--hybridize", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--start-epoch",
        type=positive_int,
        default=None,
        help="with --resume: the epoch to continue at, checked against the checkpoint "
        "(GluonCV's flag; the checkpoint knows its epoch)",
    )
    parser.add_argument(
        "--log-interval",
        type=positive_int,
        default=None,
        help="log speed, losses and LR every N iterations (and to TensorBoard)",
    )
    parser.add_argument("--log-file", default=None, help="a log file besides <save-dir>/train.log")
    parser.add_argument(
        "--tensorboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write TensorBoard events into <save-dir>/tensorboard (tensorboard --logdir runs/)",
    )
    parser.add_argument(
        "--no-wd",
        action="store_true",
        help="no weight decay on BatchNorm gamma/beta and biases (GluonCV's flag)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float16"),
        default="float32",
        help="float16: mixed precision through MXNet's AMP (GPUs only; as --amp)",
    )
    if not any("--amp" in a.option_strings for a in parser._actions):
        parser.add_argument(
            "--amp", action="store_true", help="mixed precision, MXNet's AMP (GPUs only)"
        )
    parser.add_argument(
        "--save-interval",
        type=positive_int,
        default=None,
        help="also keep checkpoint_epochNNNN.ckpt every N epochs (resumable)",
    )
    parser.add_argument(
        "--checkpoint-iters",
        type=positive_int,
        default=None,
        help="also write checkpoint_iterNNNNNNN.ckpt every N iterations; --resume continues "
        "from one mid-epoch (the epoch's remaining batches, in the same order)",
    )
    parser.add_argument(
        "--keep-checkpoints", type=positive_int, default=5, help="how many of each to keep"
    )
    if not any("--horovod" in a.option_strings for a in parser._actions):
        parser.add_argument(
            "--horovod", action="store_true", help="one process per GPU under horovodrun"
        )
