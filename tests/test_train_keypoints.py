import csv
import json

import numpy as np
import pytest
from conftest import check_dist_sync, check_exact_resume

import train_keypoints as tk
from gluonext.engine.checkpoint import read_checkpoint
from gluonext.formats.fashionai import FASHIONAI_CATEGORY_KEYPOINTS, FASHIONAI_KEYPOINTS
from gluonext.sample.writers import write_fashionai


@pytest.fixture(scope="module")
def fashionai(tmp_path_factory):
    """24 generated FashionAI images (96 x 128), all five categories."""
    root = tmp_path_factory.mktemp("fashionai")
    write_fashionai(root, 24, seed=8, size=(96, 128), progress=False)
    return root


def pose_args(root, save_dir, *extra):
    return [
        "--category", "all", "--network", "resnet18_v1b", "--data-root", str(root),
        "--input-size", "64x64", "--val-ratio", "0.25", "--batch-size", "4", "--epochs", "2",
        "--ctx", "cpu", "--workers", "0", "--save-dir", str(save_dir), "--no-progress", *extra,
    ]  # fmt: skip


def test_trains_scores_ne_then_predicts_and_submits(fashionai, tmp_path, caplog):
    import fashionai_submission
    import predict_keypoints

    args = pose_args(fashionai, tmp_path / "run", "--flip-test", "--scales", "1,1.1")
    assert tk.main(tk.parse_args(args)) == 0
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert np.isfinite(records[-1]["train_loss"]) and np.isfinite(records[-1]["NE"])
    assert "18 train / 6 val images, 24 keypoints" in caplog.text
    assert "NE " in caplog.text and any(k.startswith("NE_") for k in records[-1])
    for name in ("checkpoint_last.ckpt", "checkpoint_best.ckpt", "model_best.params",
                 "metrics.png", "train.log"):  # fmt: skip
        assert (tmp_path / "run" / name).is_file(), name
    meta = read_checkpoint(tmp_path / "run" / "checkpoint_best.ckpt")["meta"]
    assert meta["best"]["NE"] == min(r["NE"] for r in records)  # best = lowest NE

    # a test list of the held-out images, predicted, then merged into a submission
    rows = list(csv.reader((fashionai / "Annotations" / "train.csv").open()))[1:]
    test = tmp_path / "test.csv"
    with test.open("w", newline="") as handle:
        csv.writer(handle).writerows([["image_id", "image_category"], *[r[:2] for r in rows]])
    out = tmp_path / "pred"
    argv = ["--checkpoint", str(tmp_path / "run" / "checkpoint_best.ckpt"), "--test-csv",
            str(test), "--data-root", str(fashionai), "--output", str(out), "--no-progress",
            "--flip-test"]  # fmt: skip
    assert predict_keypoints.main(predict_keypoints.parse_args(argv)) == 0
    assert len(list(out.glob("*_keypoints.jpg"))) == 24
    submission = tmp_path / "submission.csv"
    argv = ["--results", str(out / "keypoints.csv"), "--test-csv", str(test),
            "--output", str(submission)]  # fmt: skip
    assert fashionai_submission.main(fashionai_submission.parse_args(argv)) == 0
    merged = list(csv.reader(submission.open()))[1:]
    assert [r[:2] for r in merged] == [r[:2] for r in rows]
    for row in merged:
        own = FASHIONAI_CATEGORY_KEYPOINTS[row[1]]
        for name, p in zip(FASHIONAI_KEYPOINTS, row[2:], strict=True):
            assert (name in own) == (p != "-1_-1_-1")  # the category's keypoints only
            if p != "-1_-1_-1":
                x, y, v = (int(c) for c in p.split("_"))
                assert v == 1 and 0 <= x < 96 * 2 and 0 <= y < 128 * 2

    caplog.clear()
    evaluate = pose_args(fashionai, tmp_path / "run", "--eval", "--resume",
                         str(tmp_path / "run" / "checkpoint_best.ckpt"))  # fmt: skip
    assert tk.main(tk.parse_args(evaluate)) == 0
    assert "evaluated" in caplog.text


def test_one_category_trains_its_own_keypoints(fashionai, tmp_path, caplog):
    args = pose_args(fashionai, tmp_path, "--category", "trousers", "--epochs", "1",
                     "--val-ratio", "0.2", "--batch-size", "2")  # fmt: skip
    assert tk.main(tk.parse_args(args)) == 0
    assert "7 keypoints" in caplog.text
    meta = read_checkpoint(tmp_path / "checkpoint_last.ckpt")["meta"]
    assert meta["joints"][0] == "waistband_left" and len(meta["joints"]) == 7


def test_bad_rows_and_flags_fail_with_a_message(fashionai, tmp_path, caplog, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(fashionai, data)
    path = data / "Annotations" / "train.csv"
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace("-1_-1_-1", "3_4", 1)
    path.write_text("\n".join(lines) + "\n")
    assert tk.run(pose_args(data, tmp_path / "run")) == 2
    assert "row 6" in caplog.text and "not x_y_v" in caplog.text
    assert tk.run(pose_args(data, tmp_path / "run", "--skip-bad", "--epochs", "1")) == 0
    assert "skipped rows: 1 not x_y_v" in caplog.text
    with pytest.raises(SystemExit):
        tk.parse_args(pose_args(data, tmp_path, "--input-size", "100x64"))
    assert "multiples of 32" in capsys.readouterr().err


def test_resume_after_epoch_1_ends_with_the_same_weights(fashionai, tmp_path):
    def args_for(save_dir, *extra):
        return pose_args(fashionai, save_dir, "--no-val", *extra)

    check_exact_resume("train_keypoints", args_for, tmp_path, min_state_effect=1e-6)


def test_dist_sync_workers_get_disjoint_shards_and_identical_weights(fashionai, tmp_path):
    args = pose_args(fashionai, tmp_path / "run", "--kvstore", "dist_sync", "--no-val")
    check_dist_sync("train_keypoints", args, tmp_path, epochs=2, shard=9, rtol=1e-5)
    assert (tmp_path / "run" / "checkpoint_last.ckpt").is_file()


@pytest.mark.parametrize("model, network", [("mobile_pose", "mobilenet1.0"),
                                            ("simple_pose", "resnet50_v1d")])  # fmt: skip
def test_more_families_train_and_predict(fashionai, tmp_path, model, network):
    """GluonCV's MobilePose and the v1d SimplePose, a few iterations, then the predictor."""
    from gluonext import load_predictor
    from gluonext.common.images import read_rgb

    args = pose_args(fashionai, tmp_path / "run", "--model", model, "--network", network,
                     "--epochs", "1", "--no-val")  # fmt: skip
    assert tk.main(tk.parse_args(args)) == 0
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(record["train_loss"])
    meta = read_checkpoint(tmp_path / "run" / "checkpoint_last.ckpt")["meta"]
    assert (meta["model"], meta["network"]) == (model, network)
    image = read_rgb(sorted(fashionai.rglob("*.jpg"))[0])
    found = load_predictor(tmp_path / "run" / "checkpoint_last.ckpt")(image, category="skirt")
    assert len(found.to_json()["keypoints"]) == 4
