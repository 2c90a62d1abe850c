"""Kill points for the fault-injection tests.

``GLUONEXT_KILL_AT="<label>#<n>"`` makes the process kill itself (SIGKILL, as a power cut or
``kill -9`` would) the n-th time it passes the point ``label``; ``GLUONEXT_KILL_TRACE=FILE``
appends every point passed to FILE, so a test can list a run's points and pick some. Points
sit between the writes a run or a conversion commits (temporary file written, renamed, epoch
committed, ...). With neither variable set, as in every real run, a point is one test of a
module constant.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_KILL_AT = os.environ.get("GLUONEXT_KILL_AT")
_TRACE = os.environ.get("GLUONEXT_KILL_TRACE")
_passed: Counter = Counter()


def kill_point(label: str) -> None:
    """A place where a kill must leave a consistent state (see the module docstring)."""
    if _KILL_AT is None and _TRACE is None:
        return
    _passed[label] += 1
    here = f"{label}#{_passed[label]}"
    if _TRACE:
        with open(_TRACE, "a", encoding="utf-8") as handle:
            handle.write(here + "\n")
    if here == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
