"""Logging to the console and, when given a path, to a file as well."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from gluonext.errors import OutputError


def setup_logging(
    log_file: str | os.PathLike | None = None, name: str = "gluonext", also=None
) -> logging.Logger:
    """Set up the root logger: plain messages on stderr, timestamped lines in ``log_file``
    (and in ``also``, a second file, e.g. GluonCV's ``--logging-file``)."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    close_logging()
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    console._gluonext = True
    root.addHandler(console)
    for path in (log_file, also):
        if path is None:
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write there ({exc.strerror or exc})") from None
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        file_handler._gluonext = True
        root.addHandler(file_handler)
    return logging.getLogger(name)


def close_logging() -> None:
    """Remove and close the handlers ``setup_logging`` added, so a second tool run in the same
    process (a notebook, a test) never writes into the first one's log file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gluonext", False):
            root.removeHandler(handler)
            handler.close()
