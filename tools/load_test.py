#!/usr/bin/env python
"""A bounded load test of a running tools/serve.py: N requests from C concurrent clients,
a share of them bad uploads; prints requests/s and latency, and fails if any good request
was not answered with 200 or any bad one was not refused with its status (400 / 413).

    python tools/serve.py --model parts=exported/ &
    python tools/load_test.py --url http://127.0.0.1:8080 --model parts --images photos/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gluonext.common.cli import positive_float, positive_int, run_tool
from gluonext.common.images import list_inputs
from gluonext.deploy.loadtest import EXPECTED_STATUS, run_load
from gluonext.errors import DatasetError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--model", action="append", required=True, help="model name; repeat")
    p.add_argument("--images", required=True, help="a folder of photos to send")
    p.add_argument("--requests", type=positive_int, default=300)
    p.add_argument("--clients", type=positive_int, default=8)
    p.add_argument("--bad-fraction", type=float, default=0.2)
    p.add_argument("--max-upload-mb", type=positive_float, default=10.0,
                   help="the server's limit (the oversized uploads exceed it)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(args) -> int:
    photos = [p.read_bytes() for p in list_inputs(Path(args.images))[:50]
              if p.suffix.lower() in (".jpg", ".jpeg")]  # fmt: skip
    if not photos:
        raise DatasetError(f"--images {args.images}: no .jpg photos")
    report = run_load(args.url, args.model, photos, args.requests, args.clients,
                      args.bad_fraction, int(args.max_upload_mb * 2**20), args.seed)  # fmt: skip
    print(report.summary())
    wrong = [a for a in report.answers
             if a.status != (200 if a.kind == "good" else EXPECTED_STATUS[a.kind])]  # fmt: skip
    for answer in wrong[:10]:
        print(f"request {answer.index} ({answer.kind}, {answer.model}): status {answer.status} "
              f"{answer.payload.get('error', '')}")  # fmt: skip
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(run_tool(main, parse_args(), "load_test"))
