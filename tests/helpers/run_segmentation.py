"""Run train_segmentation.main in a fresh process; ``--crash-at-epoch N`` first, if given,
makes epoch N raise KeyboardInterrupt (an interrupted run, for the resume test)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import train_segmentation as ts  # noqa: E402

argv = sys.argv[1:]
if argv[:1] == ["--crash-at-epoch"]:
    crash_epoch, argv = int(argv[1]), argv[2:]
    original = ts.train_one_epoch

    def crashing(*args, **kwargs):
        if args[5] == crash_epoch:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    ts.train_one_epoch = crashing
sys.exit(ts.main(ts.parse_args(argv)))
