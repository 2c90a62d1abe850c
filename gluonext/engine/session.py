"""The start of every training run: devices, data-parallel role, logging and seeds."""

from __future__ import annotations

import logging
from pathlib import Path

import mxnet as mx
import numpy as np

from gluonext.common.logs import setup_logging
from gluonext.engine.devices import Parallel, create_horovod, create_kvstore, parse_contexts
from gluonext.errors import DeviceError, GluonextError


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
        setup_logging(Path(save_dir) / "train.log")
    else:
        logging.getLogger().setLevel(logging.WARNING)
    mx.random.seed(args.seed)
    np.random.seed(args.seed)
    return contexts, parallel, parallel.is_main and not args.no_progress


def run_script(main, args, name: str) -> int:
    """``main(args)``; an error the user can fix (device, data, model, checkpoint, divergence)
    is logged as one line under ``name`` and gives exit code 2 instead of a traceback."""
    try:
        return main(args)
    except GluonextError as exc:
        logging.getLogger(name).error("error: %s", exc)
        return 2
