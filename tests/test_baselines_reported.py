"""Every training script computes its image-blind baseline before training and reports it
beside its metric: a log line, ``baseline_<metric>`` in each metrics.jsonl record, a column of
the per-class table, and (drawn from the records) a dashed line on the curve plot."""

import json

import pytest
from conftest import segmentation_args, voc_folder
from test_train_detection import ssd_args
from test_train_keypoints import pose_args
from test_train_mask_rcnn import mask_args

import train_detection as td
import train_keypoints as tk
import train_mask_rcnn as tm
import train_segmentation as ts
from gluonext.keypoints.baseline import evaluate_baseline
from gluonext.sample.writers import write_fashionai, write_imaterialist


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _check(run, caplog, key, column):
    records = _records(run)
    assert all(key in r for r in records) and len({r[key] for r in records}) == 1
    if "NE" not in key:
        assert 0 <= records[0][key] <= 1
    assert "image-blind baseline" in caplog.text and column in caplog.text
    assert (run / "metrics.png").read_bytes()[:4] == b"\x89PNG"


def test_segmentation(tiny_converted, tmp_path, caplog):
    run = tmp_path / "run"
    assert ts.run(segmentation_args(tiny_converted, run, "--epochs", "1")) == 0
    _check(run, caplog, "baseline_mIoU", "baseline")
    assert "(image-blind 0." in caplog.text


def test_detection(tmp_path, caplog):
    root = tmp_path / "voc"
    train, _ = voc_folder(root)
    run = tmp_path / "run"
    assert td.run(ssd_args(root, run, "--epochs", "1")) == 0
    _check(run, caplog, "baseline_voc07_mAP", "baseline")


def test_keypoints(tmp_path, caplog):
    root = tmp_path / "fashionai"
    write_fashionai(root, 10, seed=8, size=(64, 64), progress=False)
    run = tmp_path / "run"
    args = pose_args(root, run, "--input-size", "32x32", "--epochs", "1")
    assert tk.run(args) == 0
    _check(run, caplog, "baseline_NE", "baseline")
    # exactly the baseline of the script's own split (NE in percent)
    expected = evaluate_baseline(*tk.get_datasets(tk.parse_args(args)))["NE"]
    assert _records(run)[0]["baseline_NE"] == pytest.approx(expected, rel=1e-6)
    assert f"NE {expected:.2f}%" in caplog.text


@pytest.mark.parametrize("epochs", ["1"])
def test_instances(tmp_path, caplog, epochs):
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert

    root = tmp_path / "data"
    write_imaterialist(root, 5, seed=21, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=2, categories="main", progress=False))
    run = tmp_path / "run"
    assert tm.run(mask_args(root, run, "--epochs", epochs)) == 0
    _check(run, caplog, "baseline_mask_AP50", "baseline")
