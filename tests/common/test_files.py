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
