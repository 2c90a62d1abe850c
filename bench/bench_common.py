"""What the benchmark scripts share: timing one item at a time, and a training run's rate."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import mxnet as mx


def items_per_second(get, count: int) -> float:
    """``get(i)`` for i in 0..count-1 per second, after one warm-up call; an NDArray first
    element is waited for, so MXNet's asynchronous work is inside the timing."""

    def settle(item):
        if isinstance(item, (tuple, list)) and isinstance(item[0], mx.nd.NDArray):
            item[0].wait_to_read()

    settle(get(0))
    start = time.perf_counter()
    for i in range(count):
        settle(get(i))
    return count / (time.perf_counter() - start)


def last_epoch(command: list[str], save_dir: Path) -> dict:
    """Run a training command (it must write to ``save_dir``); its last metrics.jsonl record.
    A failed run stops the benchmark with the end of the script's error output."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"{Path(command[1]).name} exited with {done.returncode}:\n{done.stderr[-2000:]}"
        )
    return json.loads((Path(save_dir) / "metrics.jsonl").read_text().splitlines()[-1])
