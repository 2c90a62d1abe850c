import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import train_segmentation as ts
from gluonext.engine.checkpoint import read_checkpoint
from gluonext.engine.launch import launch_local
from gluonext.imaterialist_coco import ConvertOptions, convert
from gluonext.sample_data import write_imaterialist

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """24 small iMaterialist images, converted (16 train / 8 val)."""
    root = tmp_path_factory.mktemp("tiny") / "data"
    write_imaterialist(root, 24, seed=5, size=(64, 80), progress=False)
    convert(ConvertOptions(data_root=root, val_num=8, progress=False))
    return root


def base_args(root, save_dir, *extra, ctx=("--ctx", "cpu")):
    return [
        "--model",
        "fcn",
        "--backbone",
        "resnet18",
        "--dataset",
        "imaterialist_parts",
        "--data-root",
        str(root),
        "--base-size",
        "64",
        "--crop-size",
        "48",
        "--batch-size",
        "4",
        "--epochs",
        "2",
        "--lr",
        "0.01",
        *ctx,
        "--workers",
        "0",
        "--save-dir",
        str(save_dir),
        "--no-progress",
        *extra,
    ]


def weights(path):
    return read_checkpoint(path)["weights"]


def test_resume_after_epoch_1_ends_with_the_same_weights(tiny, tmp_path, monkeypatch):
    assert ts.main(ts.parse_args(base_args(tiny, tmp_path / "full", "--aux"))) == 0
    original = ts.train_one_epoch

    def crash_in_epoch_2(*args, **kwargs):
        if args[5] == 2:  # epoch
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(ts, "train_one_epoch", crash_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        ts.main(ts.parse_args(base_args(tiny, tmp_path / "cut", "--aux")))
    assert read_checkpoint(tmp_path / "cut" / "checkpoint_last.ckpt")["meta"]["epoch"] == 1
    monkeypatch.setattr(ts, "train_one_epoch", original)
    resumed = base_args(
        tiny, tmp_path / "cut", "--aux", "--resume", str(tmp_path / "cut" / "checkpoint_last.ckpt")
    )
    assert ts.main(ts.parse_args(resumed)) == 0
    full = weights(tmp_path / "full" / "checkpoint_last.ckpt")
    cut = weights(tmp_path / "cut" / "checkpoint_last.ckpt")
    assert full.keys() == cut.keys()
    for name in full:
        np.testing.assert_allclose(cut[name], full[name], rtol=1e-5, atol=1e-6, err_msg=name)
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (tmp_path / "cut" / "metrics.png").is_file()
    assert (tmp_path / "full" / "model_best.params").is_file()


def test_two_cpu_contexts_split_the_batch(tiny, tmp_path):
    args = base_args(tiny, tmp_path, "--epochs", "1", "--no-val", ctx=("--ctx", "cpu:0,cpu:1"))
    assert ts.main(ts.parse_args(args)) == 0
    meta = read_checkpoint(tmp_path / "checkpoint_last.ckpt")["meta"]
    assert meta["epoch"] == 1 and meta["args"]["ctx"] == "cpu:0,cpu:1"


def test_syncbn_on_cpu_is_refused_clearly(tiny, tmp_path, caplog):
    code = ts.run(base_args(tiny, tmp_path, "--syncbn", ctx=("--ctx", "cpu:0,cpu:1")))
    assert code == 2
    assert "--syncbn needs GPU contexts" in caplog.text and "hangs" in caplog.text


def test_gpu_request_on_cpu_build_is_refused(tiny, tmp_path, caplog):
    assert ts.run(base_args(tiny, tmp_path, ctx=("--ngpus", "2"))) == 2
    assert "MXNet sees 0" in caplog.text
    assert ts.run(base_args(tiny, tmp_path, "--ngpus", "1")) == 2
    assert "not both" in caplog.text


def test_nan_loss_stops_with_the_iteration(tiny, tmp_path, caplog):
    assert ts.run(base_args(tiny, tmp_path, "--lr", "1e30", "--epochs", "1")) == 2
    assert "training diverged" in caplog.text and "iteration" in caplog.text


def test_eval_only_prints_the_per_class_table(tiny, tmp_path, caplog):
    assert ts.main(ts.parse_args(base_args(tiny, tmp_path, "--epochs", "1"))) == 0
    args = base_args(
        tiny,
        tmp_path,
        "--eval",
        "--resume",
        str(tmp_path / "checkpoint_best.ckpt"),
        "--eval-scales",
        "0.75,1.0",
        "--eval-flip",
    )
    assert ts.main(ts.parse_args(args)) == 0
    assert "upper body" in caplog.text and "mIoU" in caplog.text


def test_model_zoo_without_network_fails_with_a_message(tiny, tmp_path, caplog):
    args = base_args(tiny, tmp_path, "--model-zoo", "deeplab_resnet101_coco")
    assert ts.run(args) == 2
    assert "could not be downloaded" in caplog.text or "not in" in caplog.text


def test_resume_from_a_foreign_file_is_refused(tiny, tmp_path, caplog):
    bogus = tmp_path / "x.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    assert ts.run(base_args(tiny, tmp_path, "--resume", str(bogus))) == 2
    assert "not a readable checkpoint" in caplog.text


def test_dist_sync_workers_get_disjoint_shards_and_identical_weights(tiny, tmp_path):
    report = tmp_path / "report"
    report.mkdir()
    command = [
        sys.executable,
        str(REPO / "tests" / "helpers" / "dist_segmentation_worker.py"),
        *base_args(tiny, tmp_path / "run", "--kvstore", "dist_sync", "--no-val"),
    ]
    import os

    os.environ["REPORT_DIR"] = str(report)
    try:
        results = launch_local(command, num_workers=2, timeout=600, capture=True)
    finally:
        del os.environ["REPORT_DIR"]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["num_workers"] for r in records] == [2, 2]
    for epoch in ("1", "2"):
        a, b = (set(r["shards"][epoch]) for r in records)
        assert len(a) == len(b) == 8 and not a & b
    w0, w1 = np.load(report / "rank0.npz"), np.load(report / "rank1.npz")
    assert sorted(w0.files) == sorted(w1.files)
    for name in w0.files:
        np.testing.assert_allclose(w0[name], w1[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert (tmp_path / "run" / "checkpoint_last.ckpt").is_file()  # written by rank 0 only


def test_launch_local_cli_requires_a_command():
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "launch_local.py")], capture_output=True, text=True
    )
    assert out.returncode == 2 and "command" in out.stderr
