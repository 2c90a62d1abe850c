"""Watching a run while it trains: GluonCV's ``--log-interval`` lines (speed, losses, LR every
N iterations) and TensorBoard event files in ``<save-dir>/tensorboard`` (``tensorboardX``,
no TensorFlow): per-iteration losses and LR, every epoch's metrics, and at each validation a
few prediction overlays. ``tensorboard --logdir runs/`` shows them; ``read_events`` reads
them back."""

from __future__ import annotations

import logging
import struct
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
EVENTS = "tensorboard"


class Monitor:
    """One run's interval log and event writer (rank 0 writes; other ranks log nothing)."""

    def __init__(self, args, save_dir: Path, is_main: bool = True):
        self.interval = getattr(args, "log_interval", None) if is_main else None
        self.writer = None
        self.checkpoint_every, self.save = getattr(args, "checkpoint_iters", None), None
        if is_main and getattr(args, "tensorboard", False):
            from tensorboardX import SummaryWriter

            self.writer = SummaryWriter(str(Path(save_dir) / EVENTS), flush_secs=10)
        self._reset()

    def _reset(self):
        self._since, self._images, self._sums, self._count = time.perf_counter(), 0, {}, 0

    def iteration(self, epoch: int, iteration: int, per_epoch: int, losses: dict, lr: float,
                  images: int) -> None:  # fmt: skip
        """After each training iteration (``iteration`` counts from 0 within the epoch; a
        resumed epoch's loader starts at the batch it left off)."""
        step = (epoch - 1) * per_epoch + iteration + 1
        every = self.checkpoint_every
        if self.save is not None and every and step % every == 0 and iteration + 1 < per_epoch:
            self.save(epoch, iteration + 1, step)  # (an epoch's end is its own checkpoint)
        if self.writer is not None:
            for name, value in losses.items():
                self.writer.add_scalar(f"train/{name}", float(value), step)
            self.writer.add_scalar("train/lr", float(lr), step)
        self._images += images
        self._count += 1
        for name, value in losses.items():
            self._sums[name] = self._sums.get(name, 0.0) + float(value)
        if self.interval and (iteration + 1) % self.interval == 0:
            seconds = time.perf_counter() - self._since
            parts = ", ".join(f"{k} {v / self._count:.4f}" for k, v in self._sums.items())
            log.info("epoch %d iteration %d/%d: %.1f img/s, %s, lr %.2e", epoch, iteration + 1,
                     per_epoch, self._images / max(seconds, 1e-9), parts, lr)  # fmt: skip
            if self.writer is not None:
                self.writer.add_scalar("train/img_per_s", self._images / max(seconds, 1e-9), step)
            self._reset()

    def epoch(self, record: dict) -> None:
        """Every number of an epoch's ``metrics.jsonl`` record, at the epoch."""
        self._reset()
        if self.writer is None:
            return
        for name, value in record.items():
            if name != "epoch" and isinstance(value, (int, float)) and np.isfinite(value):
                self.writer.add_scalar(f"epoch/{name}", float(value), record["epoch"])
        self.writer.flush()

    def pictures(self, epoch: int, pictures) -> None:
        """(name, H x W x 3 uint8 RGB) overlays drawn at a validation."""
        if self.writer is None:
            return
        for name, image in pictures:
            self.writer.add_image(f"val/{name}", np.asarray(image), epoch, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_events(folder: Path) -> dict[str, list[tuple[int, float | str]]]:
    """Tag -> [(step, value)] of every event file in ``folder`` (scalars as floats, images
    as 'image WxH'), parsed with tensorboardX's own protocol buffers."""
    from tensorboardX.proto.event_pb2 import Event

    found: dict[str, list] = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            record = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4  # length, its CRC, the record, its CRC
            event = Event()
            event.ParseFromString(record)
            for value in event.summary.value:
                if value.HasField("image"):
                    item = f"image {value.image.width}x{value.image.height}"
                else:
                    item = value.simple_value
                found.setdefault(value.tag, []).append((event.step, item))
    return found
