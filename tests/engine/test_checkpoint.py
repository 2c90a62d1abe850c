"""Checkpoint format (not executable on load, old pickles still read) and the run folder's
commit protocol (what settle_run_dir makes of each state a kill can leave)."""

import json
import os
import pickle
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from gluonext.engine import checkpoint as ck
from gluonext.engine.compat import structural_params
from gluonext.errors import CheckpointError


def _net_and_trainer(seed=0):
    mx.random.seed(seed)
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Dense(4, in_units=3), mx.gluon.nn.Dense(2, in_units=4))
    net.initialize()
    trainer = mx.gluon.Trainer(
        net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9},
        update_on_kvstore=False, kvstore="device",
    )  # fmt: skip
    with mx.autograd.record():
        loss = net(mx.nd.ones((2, 3))).sum()
    loss.backward()
    trainer.step(2)
    return net, trainer


def test_round_trip_is_exact_and_the_file_is_an_npz_without_pickles(tmp_path):
    net, trainer = _net_and_trainer()
    meta = {"epoch": 3, "best": {"NE": float("inf"), "epoch": 0}, "args": {"size": (2, 3)}}
    path = ck.save_checkpoint(tmp_path / "c.ckpt", net, trainer, meta)
    with np.load(path, allow_pickle=False) as archive:  # opens with pickles forbidden
        assert str(archive["format"]) == ck.FORMAT and "trainer" in archive.files
    other, other_trainer = _net_and_trainer(seed=1)
    got = ck.load_checkpoint(path, other, other_trainer)
    assert got == {**meta, "args": {"size": [2, 3]}}
    for name, param in structural_params(net).items():
        np.testing.assert_array_equal(structural_params(other)[name].data().asnumpy(),
                                      param.data().asnumpy())  # fmt: skip
    assert other_trainer._optimizer.num_update == trainer._optimizer.num_update == 1


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_code_in_a_checkpoint_is_refused_not_run(tmp_path):
    legacy = tmp_path / "legacy.ckpt"
    legacy.write_bytes(pickle.dumps({"format": ck.LEGACY_FORMAT, "weights": {}, "x": _Evil()}))
    with pytest.raises(CheckpointError, match="posix.system|os.system|system"):
        ck.read_checkpoint(legacy)
    net, trainer = _net_and_trainer()
    path = ck.save_checkpoint(tmp_path / "c.ckpt", net, trainer, {"epoch": 1})
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["trainer"] = np.frombuffer(pickle.dumps(_Evil()), np.uint8)
    with open(tmp_path / "evil.ckpt", "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(CheckpointError, match="optimizer state refused"):
        ck.read_checkpoint(tmp_path / "evil.ckpt")


def test_the_older_pickle_format_still_loads_with_a_notice(tmp_path, caplog):
    net, trainer = _net_and_trainer()
    weights = {n: p.data().asnumpy() for n, p in structural_params(net).items()}
    states = ck._trainer_states(trainer)
    meta = {"epoch": 2, "args": {"root": Path("/x")}}
    payload = {"format": ck.LEGACY_FORMAT, "weights": weights, "trainer": states, "meta": meta}
    (tmp_path / "old.ckpt").write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    other, other_trainer = _net_and_trainer(seed=2)
    with caplog.at_level("WARNING"):
        meta = ck.load_checkpoint(tmp_path / "old.ckpt", other, other_trainer)
    assert meta["epoch"] == 2 and "older pickle checkpoint format" in caplog.text


def _commit(folder, epoch, best_epoch, history, net, trainer):
    meta = {"epoch": epoch, "best": {"score": 1.0, "epoch": best_epoch}, "history": history}
    ck.save_epoch(folder, net, trainer, meta, is_best=best_epoch == epoch)


def test_settle_promotes_a_committed_best_and_drops_an_uncommitted_one(tmp_path):
    net, trainer = _net_and_trainer()
    rows = [{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}]
    _commit(tmp_path, 1, 1, rows[:1], net, trainer)
    # a kill after checkpoint_last of epoch 2 (new best) but before the best was renamed
    meta2 = {"epoch": 2, "best": {"score": 2.0, "epoch": 2}, "history": rows}
    ck.save_checkpoint(tmp_path / f"{ck.PENDING}{ck.BEST}", net, trainer, meta2)
    ck.export_params(tmp_path / f"{ck.PENDING}{ck.BEST_PARAMS}", net)
    ck.save_checkpoint(tmp_path / ck.LAST, net, trainer, meta2)
    assert ck.read_checkpoint(tmp_path / ck.BEST)["meta"]["epoch"] == 1
    ck.settle_run_dir(tmp_path)
    assert ck.read_checkpoint(tmp_path / ck.BEST)["meta"]["epoch"] == 2
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    # a kill after a pending best of epoch 3 was written, before its checkpoint_last
    meta3 = {"epoch": 3, "best": {"score": 3.0, "epoch": 3}, "history": rows}
    ck.save_checkpoint(tmp_path / f"{ck.PENDING}{ck.BEST}", net, trainer, meta3)
    ck.settle_run_dir(tmp_path)
    assert ck.read_checkpoint(tmp_path / ck.BEST)["meta"]["epoch"] == 2
    assert not any(p.name.startswith(ck.PENDING) for p in tmp_path.iterdir())
    assert (tmp_path / ck.BEST_PARAMS).is_file() and (tmp_path / "metrics.png").is_file()


def test_resume_refuses_a_checkpoint_without_optimizer_state(tmp_path):
    net, trainer = _net_and_trainer()
    ck.save_checkpoint(tmp_path / "w.ckpt", net, None, {"epoch": 1})
    with pytest.raises(CheckpointError, match="--init-from"):
        ck.resume_run(tmp_path / "w.ckpt", net, trainer, tmp_path / "run", {"x": 0, "epoch": 0})
    assert ck.init_from(tmp_path / "w.ckpt", net)["epoch"] == 1


def test_resume_from_best_rewinds_the_folder(tmp_path):
    net, trainer = _net_and_trainer()
    rows = [{"epoch": e, "loss": 1.0 / e} for e in (1, 2, 3)]
    _commit(tmp_path, 1, 1, rows[:1], net, trainer)
    _commit(tmp_path, 2, 2, rows[:2], net, trainer)
    _commit(tmp_path, 3, 2, rows[:3], net, trainer)
    start, best, history = ck.resume_run(tmp_path / ck.BEST, net, trainer, tmp_path, {})
    assert (start, best["epoch"], [r["epoch"] for r in history]) == (3, 2, [1, 2])
    assert ck.read_checkpoint(tmp_path / ck.LAST)["meta"]["epoch"] == 2
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_read_meta_reads_only_the_metadata(tmp_path):
    net, trainer = _net_and_trainer()
    path = ck.save_checkpoint(tmp_path / "c.ckpt", net, trainer, {"epoch": 4, "best": {}})
    assert ck.read_meta(path) == {"epoch": 4, "best": {}}
    (tmp_path / "x.ckpt").write_bytes(b"PK not a zip")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        ck.read_meta(tmp_path / "x.ckpt")
