import json
from pathlib import Path

import numpy as np
import pytest
from conftest import check_dist_sync, check_exact_resume

import train_mask_rcnn as tm
from gluonext.engine.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """6 training and 3 validation images (96 x 128), COCO JSON of the main apparel."""
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path_factory.mktemp("mask_rcnn") / "data"
    write_imaterialist(root, 9, seed=21, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=3, categories="main", progress=False))
    return root


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """3 training images and 1 validation image: for the subprocess runs of the resume test."""
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path_factory.mktemp("mask_rcnn_resume") / "data"
    write_imaterialist(root, 4, seed=22, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=1, categories="main", progress=False))
    return root


def mask_args(root, save_dir, *extra, ctx=("--ctx", "cpu")):
    """A small, fast train_mask_rcnn.py command line (FPN ResNet-18, short side 96)."""
    return [
        "--network", "resnet18_v1b", "--use-fpn", "--data-root", str(root),
        "--categories", "main", "--short", "96", "--max-size", "160",
        "--rcnn-num-samples", "32", "--rpn-pre-nms", "500", "--rpn-post-nms", "50",
        "--epochs", "2", "--lr", "0.01", "--lr-warmup", "2", *ctx, "--workers", "0",
        "--save-dir", str(save_dir), "--no-progress", *extra,
    ]  # fmt: skip


def test_resume_after_epoch_1_ends_with_the_same_weights(three, tmp_path):
    def args_for(save_dir, *extra):
        return mask_args(three, save_dir, "--no-val", *extra)

    check_exact_resume("train_mask_rcnn", args_for, tmp_path, min_state_effect=1e-5)


def test_two_cpu_contexts_validation_outputs_and_eval_only(small, tmp_path, caplog):
    """... with Fashionpedia's attribute head: its loss, its scores, its list in the checkpoint."""
    args = mask_args(small, tmp_path, "--epochs", "1", "--attributes",
                     "--attribute-loss-weight", "2", ctx=("--ctx", "cpu:0,cpu:1"))  # fmt: skip
    assert tm.main(tm.parse_args(args)) == 0
    assert "batch 2 (1 per device)" in caplog.text
    (record,) = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for key in (
        "train_loss",
        "train_loss_mask",
        "mask_AP",
        "mask_AP50",
        "bbox_AP",
        "lr",
        "img_per_s",
    ):
        assert key in record and np.isfinite(record[key])
    for name in ("checkpoint_last.ckpt", "checkpoint_best.ckpt", "model_best.params",
                 "metrics.png", "train.log"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    meta = read_checkpoint(tmp_path / "checkpoint_best.ckpt")["meta"]
    assert meta["category_ids"] == list(range(13)) and meta["classes"][6] == "pants"
    assert record["train_loss_attributes"] > 0
    for key in ("attr_AP_IoU_F1", "attr_AP_IoU50_F150", "attr_AP_IoU", "attr_F1",
                "baseline_attr_F1", "baseline_attr_AP_IoU_F1"):  # fmt: skip
        assert 0.0 <= record[key] <= 1.0, key
    assert "image-blind attributes (each category's most frequent attribute set)" in caplog.text
    assert len(meta["attributes"]) == 92 and meta["attributes"][28]["id"] == 28
    caplog.clear()
    evaluate = mask_args(small, tmp_path, "--eval", "--attributes", "--resume",
                         str(tmp_path / "checkpoint_best.ckpt"))  # fmt: skip
    assert tm.main(tm.parse_args(evaluate)) == 0
    assert "attributes (Fashionpedia): AP_IoU_F1" in caplog.text
    assert "mask: AP" in caplog.text and "shirt, blouse" in caplog.text and "AP50" in caplog.text
    assert "iMaterialist competition score" in caplog.text
    caplog.clear()
    assert tm.main(tm.parse_args([*evaluate, "--flip-test", "--scales", "0.8,1"])) == 0
    assert "mask: AP" in caplog.text and "iMaterialist competition score" in caplog.text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--amp",), "--amp: MXNet's CPU kernels train in float32 only"),
        (("--horovod",), "horovod is not installed"),
        (("--batch-size", "3", "--ctx", "cpu:0,cpu:1"), "must split evenly"),
        (("--eval",), "--eval needs --resume"),
        (("--categories", "40,41"), "unknown category ids [40, 41]"),
    ],
)
def test_requests_that_cannot_work_fail_with_a_message(small, tmp_path, caplog, extra, message):
    assert tm.run(mask_args(small, tmp_path, *extra)) == 2
    assert message in caplog.text


def test_nan_loss_stops_with_the_iteration(small, tmp_path, caplog, monkeypatch):
    original = tm.MaskRCNNLoss.__call__

    def poisoned(self, *args):
        total, parts = original(self, *args)
        return total * float("nan"), parts

    monkeypatch.setattr(tm.MaskRCNNLoss, "__call__", poisoned)
    assert tm.run(mask_args(small, tmp_path, "--epochs", "1", "--no-val")) == 2
    assert "training diverged" in caplog.text and "iteration 0" in caplog.text


def test_dist_sync_workers_get_disjoint_shards_and_identical_weights(small, tmp_path):
    args = mask_args(small, tmp_path / "run", "--kvstore", "dist_sync", "--no-val", "--epochs", "1")
    check_dist_sync("train_mask_rcnn", args, tmp_path, epochs=1, shard=3, rtol=1e-5)
    assert (tmp_path / "run" / "checkpoint_last.ckpt").is_file()  # written by rank 0 only


def test_mobilenet_mask_rcnn_trains_and_predicts(three, tmp_path):
    """GluonCV's FPN Mask R-CNN on MobileNet1.0 (its box head: a 3 x 3 convolution, one dense)."""
    from gluonext import load_predictor
    from gluonext.common.images import read_rgb

    args = mask_args(three, tmp_path / "run", "--epochs", "1", "--no-val")
    args[args.index("resnet18_v1b")] = "mobilenet1.0"
    assert tm.main(tm.parse_args(args)) == 0
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(record["train_loss"])
    photo = sorted((three / "train").glob("*.jpg"))[0]
    found = load_predictor(tmp_path / "run" / "checkpoint_last.ckpt", min_score=0.0)(
        read_rgb(photo))  # fmt: skip
    assert found.masks.shape[:2] == read_rgb(photo).shape[:2]
    no_fpn = [a for a in args if a != "--use-fpn"]
    assert tm.run([*no_fpn, "--save-dir", str(tmp_path / "c4")]) == 2


def test_labelme_folders_train_mask_rcnn(tmp_path):
    """--train-json / --val-json naming LabelMe folders: labels.txt's classes, one epoch."""
    from helpers.parsing_layouts import clothing13_pairs, labelme_folders

    pairs = clothing13_pairs(tmp_path / "c13", 6, size=(96, 120))
    labelme = labelme_folders(tmp_path / "project", pairs, val=2)
    run = tmp_path / "run"
    args = mask_args(tmp_path / "project", run, "--train-json", str(labelme / "train"),
                     "--val-json", str(labelme / "val"), "--epochs", "1")  # fmt: skip
    args[args.index("--categories") + 1] = "all"
    assert tm.main(tm.parse_args(args)) == 0
    meta = read_checkpoint(run / "checkpoint_last.ckpt")["meta"]
    assert list(meta["classes"]) == ["skin", "hair", "shoes"]


def test_attributes_need_the_files_attribute_list(small, tmp_path):
    from gluonext.errors import DatasetError

    payload = json.loads((small / "annotations" / "instances_train.json").read_text())
    del payload["attributes"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(payload))
    args = mask_args(small, tmp_path / "run", "--attributes", "--train-json", str(bare))
    with pytest.raises(DatasetError, match=r"bare.json: no 'attributes' list"):
        tm.main(tm.parse_args(args))
