"""Kill points for the fault-injection tests.

``GLUONEXT_KILL_AT="<label>#<n>"`` makes the process kill itself (SIGKILL, as a power cut or
``kill -9`` would) the n-th time it passes the point ``label``; ``GLUONEXT_KILL_TRACE=FILE``
appends every point passed to FILE, so a test can list a run's points and pick some. A label
is the stage (``epoch 3``, ``resume``, ``convert``) and the step (``write checkpoint_last.ckpt``,
``replaced metrics.jsonl``, ``epoch committed``, ...), so the same point has the same label in
a fresh run and in a resumed one. Points sit between the writes a run or a conversion commits.
With neither variable set, as in every real run, a point costs one test of a module global.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_kill_at = os.environ.get("GLUONEXT_KILL_AT")
_trace = os.environ.get("GLUONEXT_KILL_TRACE")
_stage = "start"
_passed: Counter = Counter()


def arm(kill_at: str | None = None, trace: str | None = None) -> None:
    """Set the kill point and trace file in this process (as the variables would)."""
    global _kill_at, _trace
    _kill_at, _trace = kill_at, trace
    _passed.clear()


def set_stage(stage: str) -> None:
    """Name the stage the next points belong to (``epoch 2``, ``resume``, ``convert``)."""
    global _stage
    _stage = stage


def kill_point(step: str) -> None:
    """A place where a kill must leave a consistent state (see the module docstring)."""
    if _kill_at is None and _trace is None:
        return
    label = f"{_stage}: {step}"
    _passed[label] += 1
    here = f"{label}#{_passed[label]}"
    if _trace:
        with open(_trace, "a", encoding="utf-8") as handle:
            handle.write(here + "\n")
    if here == _kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
