import errno
from collections import namedtuple

import pytest

from gluonext.engine import checkpoint, session
from gluonext.errors import OutputError


def test_a_disk_without_room_for_checkpoints_is_refused_at_start(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(session.shutil, "disk_usage", lambda _: usage(10**9, 10**9, 5 * 2**20))
    with pytest.raises(OutputError, match="only 5 MiB free"):
        session.check_save_dir(tmp_path / "run")


def test_a_full_disk_while_saving_is_one_line_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    import mxnet as mx

    net = mx.gluon.nn.Dense(2, in_units=3)
    net.initialize()
    path = checkpoint.save_checkpoint(tmp_path / "c.ckpt", net, None, {"epoch": 1})
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", full)
    with pytest.raises(OutputError, match="c.ckpt: cannot write the checkpoint"):
        checkpoint.save_checkpoint(path, net, None, {"epoch": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.ckpt"]  # no temporary left


def test_the_start_removes_what_a_killed_writer_left(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    orphan = run / ".checkpoint_last.ckpt.k3j2x1.tmp"
    orphan.write_bytes(b"\0" * 1000)
    (run / "checkpoint_last.ckpt").write_bytes(b"kept")
    session.check_save_dir(run)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint_last.ckpt"]
