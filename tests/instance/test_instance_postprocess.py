"""Same-class suppression, disjoint masks and the thresholds file, on masks drawn by hand."""

import json

import numpy as np
import pytest

from gluonext.errors import DatasetError
from gluonext.instance.postprocess import (
    DEFAULTS,
    PostProcess,
    disjoint_masks,
    read_settings,
    settings_beside,
    suppress_same_class,
    write_settings,
)


def _box(x1, y1, x2, y2, size=20):
    mask = np.zeros((size, size), np.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask


def test_suppression_drops_a_weaker_same_class_overlap_only():
    # 0 and 1 share 60 of 100 pixels each: IoU 60 / 140 = 0.43; 2 is 1's twin of another class
    masks = np.stack([_box(0, 0, 10, 10), _box(4, 0, 14, 10), _box(4, 0, 14, 10)], axis=2)
    classes = np.array([3, 3, 5])
    assert suppress_same_class(masks, classes, 0.4).tolist() == [0, 2]
    assert suppress_same_class(masks, classes, 0.5).tolist() == [0, 1, 2]
    assert suppress_same_class(masks, classes, 1.0).tolist() == [0, 1, 2]  # off


def test_disjoint_masks_keep_what_better_masks_left_and_drop_small_rests():
    better, worse, apart = _box(0, 0, 10, 10), _box(5, 0, 12, 10), _box(15, 15, 17, 17)
    kept = disjoint_masks([better, worse, apart], min_area=1)
    assert [k for k, _ in kept] == [0, 1, 2]
    assert int(kept[1][1].sum()) == 20 and not (kept[0][1] & kept[1][1]).any()
    assert [k for k, _ in disjoint_masks([better, worse, apart], min_area=5)] == [0, 1]
    assert [k for k, _ in disjoint_masks([better, worse, apart], min_area=21)] == [0]


def test_settings_file_round_trip_and_bad_files(tmp_path):
    assert read_settings(tmp_path / "thresholds.json") is None
    assert settings_beside(tmp_path / "checkpoint_best.ckpt") is None
    tuned = PostProcess(score=0.3, mask=0.4, nms=0.5, min_area=16)
    write_settings(tmp_path / "thresholds.json", tuned, {"images": 3})
    assert read_settings(tmp_path / "thresholds.json") == tuned
    assert settings_beside(tmp_path / "checkpoint_best.ckpt") == tuned  # beside a checkpoint
    assert settings_beside(tmp_path) == tuned  # in an export folder
    assert json.loads((tmp_path / "thresholds.json").read_text())["images"] == 3
    (tmp_path / "bad.json").write_text('{"settings": {"score": 0.3}}')
    with pytest.raises(DatasetError, match=r"bad.json: not a thresholds file .*KeyError"):
        read_settings(tmp_path / "bad.json")
    assert DEFAULTS == PostProcess(0.5, 0.5, 1.0, 1)
