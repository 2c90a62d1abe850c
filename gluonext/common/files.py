"""Atomic file output: write to a temporary file beside the target, then rename over it.

An interrupted run leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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


JOURNAL = ".publish.json"
STAGING_PREFIX = ".staging-"


def staging_folder(folder: str | os.PathLike) -> Path:
    """A fresh hidden folder inside ``folder`` to write a set of files into before
    ``publish_together`` moves them into place."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))


def publish_together(folder: str | os.PathLike, staging: Path, deletes=()) -> None:
    """Move every file of ``staging`` into ``folder`` and delete ``deletes`` there, as one
    step: a journal written first (atomically) lists the moves, so a kill at any point leaves
    the old set (no journal yet) or, once ``finish_publish`` has run, the new one."""
    folder = Path(folder)
    moves = sorted(p.name for p in staging.iterdir())
    plan = {"staging": staging.name, "moves": moves, "deletes": sorted(deletes)}
    write_json(folder / JOURNAL, plan)
    kill_point("publish journal written")
    finish_publish(folder)


def finish_publish(folder: str | os.PathLike, clean: bool = True) -> bool:
    """Complete a publish a kill interrupted (its journal exists: roll forward); with
    ``clean`` (the writer, at its start) also remove the staging folders and temporary files
    of one that never reached its journal. True if one was completed. Safe to run from a
    reader and the writer at once."""
    folder = Path(folder)
    journal = folder / JOURNAL
    completed = False
    if journal.is_file():
        plan = json.loads(journal.read_text(encoding="utf-8"))
        staging = folder / plan["staging"]
        for name in plan["moves"]:
            with contextlib.suppress(FileNotFoundError):
                os.replace(staging / name, folder / name)
                kill_point(f"published {name}")
        for name in plan["deletes"]:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
        shutil.rmtree(staging, ignore_errors=True)
        completed = True
    if clean:
        for leftover in folder.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        remove_stale_temporaries(folder)
    return completed


def write_json(path: str | os.PathLike, payload: Any, indent: int | None = None) -> None:
    """Serialise ``payload`` to ``path`` atomically."""
    # json.dumps uses the C encoder; json.dump to a file would run the pure-Python one
    text = json.dumps(payload, indent=indent, separators=(",", ":") if indent is None else None)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
