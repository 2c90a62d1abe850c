"""A dist_sync worker for the tests: ``dist_worker.py MODULE ARGS...`` runs a training script's
main(), then reports what it saw.

It records this rank's shard of every epoch and its final parameters into ``$REPORT_DIR``
(test-only: the product itself writes files from rank 0 only).
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
from script_loader import load_script

import gluonext.engine.devices as devices
from gluonext.engine.compat import structural_params

ts = load_script(sys.argv[1])

record = {"shards": {}}
nets = []
_shard_order, _build_net = devices.shard_order, ts.build_net


def spy_shard(num_items, seed, epoch, rank=0, num_workers=1, shuffle=True):
    order = _shard_order(num_items, seed, epoch, rank, num_workers, shuffle)
    record.update(rank=rank, num_workers=num_workers)
    record["shards"][epoch] = order.tolist()
    return order


def keep_net(*args, **kwargs):
    net = _build_net(*args, **kwargs)
    nets.append(net)
    return net


devices.shard_order, ts.build_net = spy_shard, keep_net
code = ts.main(ts.parse_args(sys.argv[2:]))
out = Path(os.environ["REPORT_DIR"])
rank = record["rank"]
np.savez(
    out / f"rank{rank}.npz",
    **{k: v.data().asnumpy() for k, v in structural_params(nets[0]).items()},
)
(out / f"rank{rank}.json").write_text(json.dumps(record))
sys.exit(code)
