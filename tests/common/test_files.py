import json

import pytest

from gluonext.common.files import atomic_open, write_json


def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"version": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as handle:
            handle.write('{"version": 2, "half')
            raise RuntimeError("interrupted")
    assert json.loads(path.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_unserialisable_payload_does_not_touch_the_target(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, [1, 2])
    with pytest.raises(TypeError):
        write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == [1, 2]
    assert len(list(tmp_path.iterdir())) == 1


def test_atomic_files_get_the_mode_open_would_give(tmp_path):
    import os

    write_json(tmp_path / "a.json", [1])
    (tmp_path / "b.json").write_text("[1]")
    mode = lambda p: os.stat(p).st_mode & 0o777  # noqa: E731
    assert mode(tmp_path / "a.json") == mode(tmp_path / "b.json") != 0o600


def test_stale_temporaries_are_removed(tmp_path):
    from gluonext.common.files import remove_stale_temporaries

    (tmp_path / ".checkpoint_last.ckpt.abc123.tmp").write_bytes(b"x" * 10)
    (tmp_path / "keep.tmp").write_text("a user's file, not ours")
    (tmp_path / "checkpoint_last.ckpt").write_bytes(b"y")
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_last.ckpt", "keep.tmp"]
