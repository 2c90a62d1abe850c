"""kill -9 at many points: a training run resumes to the weights of an uninterrupted one with a
consistent folder after every kill, and a conversion leaves the old set or the new one."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from gluonext.formats.imaterialist_coco import ConvertOptions, convert
from gluonext.sample.writers import write_imaterialist


def test_training_killed_at_21_points_resumes_to_the_uninterrupted_weights(tmp_path):
    data = tmp_path / "data"
    write_imaterialist(data, 12, seed=5, size=(64, 80), progress=False)
    convert(ConvertOptions(data_root=data, val_num=4, progress=False))
    report = tmp_path / "report.json"
    args = [
        "--model", "fcn", "--backbone", "resnet18", "--dataset", "imaterialist_parts",
        "--data-root", str(data), "--base-size", "48", "--crop-size", "32", "--batch-size", "4",
        "--epochs", "6", "--lr", "0.01", "--ctx", "cpu", "--workers", "0",
        "--save-dir", str(tmp_path / "runs"), "--no-progress",
    ]  # fmt: skip
    helper = REPO / "tests" / "helpers" / "fault_chain.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(helper), "train_segmentation", str(report), "26", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["killed"] >= 20, result
    for kill in result["kills"]:
        assert kill["code"] == -9 and kill["problems"] == [], kill
    steps = {kill["point"].split(": ", 1)[1].split("#")[0] for kill in result["kills"]}
    assert {
        "write checkpoint_last.ckpt",  # inside the checkpoint write (temporary file complete)
        "write .pending_checkpoint_best.ckpt",
        "write metrics.jsonl",
        "write metrics.png",
    } <= steps, steps
    assert result["final_code"] == 0 and result["final_problems"] == []
    assert result["same_weights"] and result["same_history"]


def _visible(folder: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.name != "convert.log"
    }


def _convert(root: Path, *extra, env=None):
    tool = REPO / "tools" / "convert_imaterialist_to_coco.py"
    command = [sys.executable, str(tool), "--data-root", str(root), "--no-progress", *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_conversion_killed_between_any_two_writes_leaves_the_old_set_or_the_new(tmp_path):
    from gluonext.common.files import finish_publish
    from gluonext.formats.coco import check_split_pair
    from gluonext.instance.data import InstanceDataset

    base = tmp_path / "base"
    write_imaterialist(base, 16, seed=9, size=(48, 64), progress=False)
    with open(base / "train.csv", "a") as handle:
        handle.write("broken,1 2 3,48,64,1\n")  # a rejected row for the new set's reject list
    old_args = ["--val-num", "3", "--seed", "1", "--resize-val", "24,32"]
    new_args = ["--val-num", "5", "--seed", "2", "--on-error", "skip"]
    assert _convert(base, *old_args, "--on-error", "skip").returncode == 0
    old = _visible(base / "annotations")
    trial = tmp_path / "trial"  # one path for every run: the JSON records the CSV's path
    shutil.copytree(base, trial)
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "GLUONEXT_KILL_TRACE": str(trace)}
    assert _convert(trial, *new_args, env=env).returncode == 0
    new = _visible(trial / "annotations")
    assert new.keys() == {"instances_train.json", "instances_val.json", "rejected_rows.csv"}
    assert new != old and "instances_val_24x32.json" in old  # the stale resized file goes
    points = trace.read_text().splitlines()
    assert len(points) >= 8, points
    for point in points:
        shutil.rmtree(trial)
        shutil.copytree(base, trial)
        killed = _convert(trial, *new_args, env={**os.environ, "GLUONEXT_KILL_AT": point})
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
        folder = trial / "annotations"
        journal = (folder / ".publish.json").is_file()
        if not journal:
            assert _visible(folder) == old, point
        finish_publish(folder)  # what the next conversion or dataset does first
        assert _visible(folder) == (new if journal else old), point
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], point
        train, val = InstanceDataset(trial, "train"), InstanceDataset(trial, "val")
        check_split_pair(train, val)
