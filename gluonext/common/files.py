"""Atomic file output: write to a temporary file beside the target, then rename over it.

An interrupted run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from gluonext.common.faults import kill_point


def _file_mode() -> int:
    """What ``open`` would give a new file here (0o666 less the umask): ``mkstemp``'s files are
    0600, which would make an atomically written file unlike its neighbours."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_MODE = _file_mode()
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent
    )
    try:
        os.fchmod(fd, _MODE)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        kill_point(f"write {target.name}")
        os.replace(tmp_name, target)
        kill_point(f"replaced {target.name}")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def remove_stale_temporaries(folder: str | os.PathLike) -> int:
    """Delete the temporary files a killed writer left in ``folder`` (``.<name>.*.tmp``);
    returns how many."""
    removed = 0
    for path in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def write_json(path: str | os.PathLike, payload: Any, indent: int | None = None) -> None:
    """Serialise ``payload`` to ``path`` atomically."""
    # json.dumps uses the C encoder; json.dump to a file would run the pure-Python one
    text = json.dumps(payload, indent=indent, separators=(",", ":") if indent is None else None)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
