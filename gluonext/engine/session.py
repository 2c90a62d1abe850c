"""The start of every training run: devices, data-parallel role, logging and seeds."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.files import remove_stale_temporaries
from gluonext.common.logs import setup_logging
from gluonext.engine.devices import Parallel, create_horovod, create_kvstore, parse_contexts
from gluonext.errors import DeviceError, OutputError


def start_run(args, save_dir: Path) -> tuple[list[mx.Context], Parallel, bool]:
    """Contexts from ``--ngpus`` / ``--ctx`` (or horovod's GPU), the kvstore or horovod role,
    logging to ``save_dir/train.log`` on rank 0 only, and seeded random generators.

    Returns (contexts, parallel, show progress bars).
    """
    if args.ngpus and args.ctx:
        raise DeviceError("give --ngpus N or --ctx LIST, not both")
    if getattr(args, "horovod", False):
        parallel, contexts = create_horovod()
    else:
        contexts = parse_contexts(args.ngpus, args.ctx)
        parallel = create_kvstore(args.kvstore, contexts)
    if parallel.is_main:
        check_save_dir(Path(save_dir))
        setup_logging(Path(save_dir) / "train.log", also=getattr(args, "log_file", None))
        for note in getattr(args, "gluoncv_notes", []):
            logging.getLogger(__name__).info("GluonCV flag %s", note)
    else:
        logging.getLogger().setLevel(logging.WARNING)
    mx.random.seed(args.seed)
    np.random.seed(args.seed)
    return contexts, parallel, parallel.is_main and not args.no_progress


MIN_FREE_BYTES = 64 * 2**20


def check_save_dir(save_dir: Path) -> None:
    """``--save-dir`` is a folder this process can write, with room for checkpoints; what a
    killed run left half written there (temporary files) is removed."""
    if save_dir.exists() and not save_dir.is_dir():
        raise OutputError(f"--save-dir {save_dir}: is a file, not a folder")
    try:
        save_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=save_dir, prefix=".write-probe.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise OutputError(f"--save-dir {save_dir}: cannot write there ({exc.strerror})") from None
    free = shutil.disk_usage(save_dir).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            f"--save-dir {save_dir}: only {free / 2**20:.0f} MiB free on its disk; "
            f"checkpoints need more (at least {MIN_FREE_BYTES // 2**20} MiB)"
        )
    removed = remove_stale_temporaries(save_dir)
    if removed:
        logging.getLogger(__name__).info("removed %d temporary file(s) a killed run left", removed)
