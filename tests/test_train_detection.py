import json

import numpy as np
import pytest

import train_detection as td
from gluonext.engine.checkpoint import read_checkpoint
from gluonext.sample_data import write_voc
from gluonext.voc_tables import split_by_image, write_lines


@pytest.fixture(scope="module")
def apparel(tmp_path_factory):
    """12 LabelImg images (96 x 96) split 8 / 4 with tools' split files."""
    root = tmp_path_factory.mktemp("apparel")
    write_voc(root, 12, seed=6, size=(96, 96), progress=False)
    train, test = split_by_image([p.stem for p in root.glob("*.xml")], 0.67, seed=0)
    write_lines(root / "train.txt", train)
    write_lines(root / "test.txt", test)
    return root


def ssd_args(root, save_dir, *extra):
    return [
        "--model", "ssd", "--network", "mobilenet0.25", "--data-shape", "300",
        "--dataset", "voc", "--data-root", str(root), "--batch-size", "4", "--epochs", "2",
        "--lr", "0.01", "--ctx", "cpu", "--workers", "0", "--save-dir", str(save_dir),
        "--no-progress", *extra,
    ]  # fmt: skip


def test_ssd_trains_evaluates_and_writes_its_outputs(apparel, tmp_path, caplog):
    assert td.main(td.parse_args(ssd_args(apparel, tmp_path))) == 0
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for key in ("train_loss", "train_loss_cls", "train_loss_box", "voc07_mAP", "coco_AP50"):
        assert np.isfinite(records[-1][key]), key
    assert "VOC07 mAP@0.5" in caplog.text
    for name in ("checkpoint_last.ckpt", "checkpoint_best.ckpt", "model_best.params",
                 "metrics.png", "train.log"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    meta = read_checkpoint(tmp_path / "checkpoint_last.ckpt")["meta"]
    assert meta["data_shape"] == 300 and len(meta["classes"]) >= 3
    caplog.clear()
    evaluate = ssd_args(
        apparel, tmp_path, "--eval", "--resume", str(tmp_path / "checkpoint_best.ckpt")
    )
    assert td.main(td.parse_args(evaluate)) == 0
    assert "evaluated" in caplog.text and "COCO: AP" in caplog.text


def test_bad_requests_fail_with_a_message(apparel, tmp_path, caplog):
    assert td.run(ssd_args(apparel, tmp_path, "--data-shape", "512")) == 2
    assert "built for 300" in caplog.text
    assert td.run(ssd_args(apparel, tmp_path, "--train-list", str(tmp_path / "x.txt"))) == 2
    assert "split file not found" in caplog.text
