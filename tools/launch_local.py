#!/usr/bin/env python
"""Run a training command as a dist_sync job on this machine, every role on 127.0.0.1.

    python tools/launch_local.py --num-workers 2 -- \
        python train_segmentation.py --kvstore dist_sync --ctx cpu ...
"""

from __future__ import annotations

import argparse
import sys

from gluonext.engine.launch import launch_local


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num-workers", "-n", type=int, default=2)
    p.add_argument("--num-servers", "-s", type=int, default=1)
    p.add_argument("command", nargs=argparse.REMAINDER, help="the worker command, after --")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the worker command after --")
    results = launch_local(command, args.num_workers, args.num_servers)
    failed = [i for i, r in enumerate(results) if r.returncode]
    if failed:
        print(f"workers {failed} failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
