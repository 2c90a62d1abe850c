"""Logging to the console and, when given a path, to a file as well."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from gluonext.errors import OutputError


def setup_logging(
    log_file: str | os.PathLike | None = None, name: str = "gluonext"
) -> logging.Logger:
    """Set up the root logger: plain messages on stderr, timestamped lines in ``log_file``."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_gluonext", False):
            root.removeHandler(handler)
            handler.close()
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    console._gluonext = True
    root.addHandler(console)
    if log_file is not None:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{log_file}: cannot write there ({exc.strerror or exc})") from None
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        file_handler._gluonext = True
        root.addHandler(file_handler)
    return logging.getLogger(name)
