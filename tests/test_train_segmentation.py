import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    check_dist_sync,
    check_exact_resume,
    segmentation_args,
)

import train_segmentation as ts
from gluonext.engine.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny(tiny_converted):
    return tiny_converted


def base_args(root, save_dir, *extra, ctx=("--ctx", "cpu")):
    return segmentation_args(root, save_dir, *extra, ctx=ctx)


def weights(path):
    return read_checkpoint(path)["weights"]


def test_resume_after_epoch_1_ends_with_the_same_weights(tiny, tmp_path):
    def args_for(save_dir, *extra):
        return base_args(tiny, save_dir, "--aux", *extra)

    check_exact_resume("train_segmentation", args_for, tmp_path, min_state_effect=1e-4)
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


def test_bad_numbers_are_refused_with_the_flag(tiny, tmp_path, caplog, capsys):
    assert ts.run(base_args(tiny, tmp_path, "--scale-range", "2,1")) == 2
    assert "--scale-range" in caplog.text
    for flag, value in (("--batch-size", "0"), ("--eval-scales", "1,x"), ("--lr", "-1")):
        with pytest.raises(SystemExit):
            ts.parse_args(base_args(tiny, tmp_path, flag, value))
        assert flag in capsys.readouterr().err


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


def test_model_zoo_without_network_fails_with_a_message(tiny, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no cached weights
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")  # nothing listens there
    args = base_args(tiny, tmp_path, "--model-zoo", "deeplab_resnet101_coco")
    assert ts.run(args) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    where = os.path.join("~", ".mxnet", "models")
    expected = ("error: --model-zoo deeplab_resnet101_coco: pretrained weights are not in "
                f"{where} and could not be downloaded (")  # fmt: skip
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert "\n" not in errors[0] and errors[0].endswith("or train without --model-zoo.")


def test_resume_from_a_foreign_file_is_refused(tiny, tmp_path, caplog):
    bogus = tmp_path / "x.ckpt"
    bogus.write_bytes(b"not a checkpoint")
    assert ts.run(base_args(tiny, tmp_path, "--resume", str(bogus))) == 2
    assert "not a readable checkpoint" in caplog.text


def test_dist_sync_workers_get_disjoint_shards_and_identical_weights(tiny, tmp_path):
    args = base_args(tiny, tmp_path / "run", "--kvstore", "dist_sync", "--no-val")
    check_dist_sync("train_segmentation", args, tmp_path, epochs=2, shard=8, rtol=1e-6)
    assert (tmp_path / "run" / "checkpoint_last.ckpt").is_file()  # written by rank 0 only


def test_launch_local_cli_requires_a_command():
    out = subprocess.run(
        [sys.executable, str(REPO / "tools" / "launch_local.py")], capture_output=True, text=True
    )
    assert out.returncode == 2 and "command" in out.stderr


@pytest.mark.parametrize("model", ["fastscnn", "icnet", "deeplabv3b_plus"])
def test_fixed_size_families_train_predict_and_export(tiny_converted, tmp_path, caplog, model):
    """GluonCV's Fast-SCNN, ICNet (its cascade loss) and WideResNet DeepLabV3+: one input
    size, so validation on centre crops and prediction letterboxed to the crop; ONNX too."""
    from gluonext import load_predictor
    from gluonext.common.images import read_rgb
    from gluonext.deploy.export import export_model

    args = segmentation_args(tiny_converted, tmp_path / "run", "--epochs", "1", "--crop-size",
                             "64", "--base-size", "64", model=model)  # fmt: skip
    assert ts.main(ts.parse_args(args)) == 0
    assert "validation on centre crops (--val-mode crop)" in caplog.text
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(record["train_loss"]) and 0 <= record["mIoU"] <= 1
    ckpt = tmp_path / "run" / "checkpoint_last.ckpt"
    photo = sorted((tiny_converted / "train").glob("*.jpg"))[0]
    image = read_rgb(photo)
    predictor = load_predictor(ckpt)
    assert predictor.input_size == (64, 64)
    assert predictor(image).class_map.shape == image.shape[:2]
    report = export_model(ckpt, tmp_path / "export", images=[str(photo)])
    assert report.written == ["symbol", "onnx"], report.refused


def test_a_voc_segmentation_folder_trains_with_its_own_classes_and_colours(tmp_path):
    """--dataset folder on VOC's SegmentationClass layout (palette PNGs, 255 borders ignored,
    ImageSets/Segmentation lists, a classes file with colours): one epoch; the class names and
    colours reach the checkpoint, the exported model.json and the predictor's legend."""
    from helpers.parsing_layouts import clothing13_pairs, voc_segmentation

    from gluonext import load_predictor
    from gluonext.deploy.export import export_model
    from gluonext.formats.clothing13 import CLASSES

    root = voc_segmentation(tmp_path / "VOC", clothing13_pairs(tmp_path / "c13", 8), val=2)
    run = tmp_path / "run"
    args = segmentation_args(root, run, "--dataset", "folder", "--epochs", "1")
    assert ts.main(ts.parse_args(args)) == 0
    meta = read_checkpoint(run / "checkpoint_last.ckpt")["meta"]
    assert list(meta["classes"]) == list(CLASSES) and meta["nclass"] == 13
    colours = [[int(line.split("#")[1][k : k + 2], 16) for k in (0, 2, 4)]
               for line in (root / "classes.txt").read_text().splitlines()]  # fmt: skip
    assert meta["palette"] == colours
    export_model(run / "checkpoint_last.ckpt", tmp_path / "export", formats=("symbol",))
    spec = json.loads((tmp_path / "export" / "model.json").read_text())
    assert spec["classes"] == list(CLASSES) and spec["palette"] == colours
    predictor = load_predictor(tmp_path / "export")
    legend = predictor(np.zeros((64, 80, 3), np.uint8)).legend()
    assert {tuple(e["color"]) for e in legend} <= {tuple(c) for c in colours}
    with pytest.raises(SystemExit):  # --classes belongs to --dataset folder
        ts.parse_args(segmentation_args(root, tmp_path / "r2", "--classes", "x.txt"))


def test_labelme_folders_train_a_parser_through_any_coco_reading(tmp_path):
    """--dataset coco with --train-json / --val-json naming LabelMe folders: the folder's
    labels.txt classes after background, one epoch, no file renamed."""
    from helpers.parsing_layouts import clothing13_pairs, labelme_folders

    labelme = labelme_folders(tmp_path / "project", clothing13_pairs(tmp_path / "c13", 8), val=2)
    run = tmp_path / "run"
    args = segmentation_args(tmp_path / "project", run, "--dataset", "coco", "--train-json",
                             str(labelme / "train"), "--val-json", str(labelme / "val"),
                             "--epochs", "1")  # fmt: skip
    assert ts.main(ts.parse_args(args)) == 0
    meta = read_checkpoint(run / "checkpoint_last.ckpt")["meta"]
    assert list(meta["classes"]) == ["background", "skin", "hair", "shoes"]


def test_a_coco_json_trains_a_parser_with_its_own_categories(tiny, tmp_path):
    """--dataset coco on a COCO file (here the converter's): every category of the file a
    class after background, in the file's order."""
    run = tmp_path / "run"
    train_json = tiny / "annotations" / "instances_train.json"
    args = segmentation_args(tiny, run, "--dataset", "coco", "--train-json", str(train_json),
                             "--epochs", "1", "--overlap", "order")  # fmt: skip
    assert ts.main(ts.parse_args(args)) == 0
    categories = json.loads(train_json.read_text())["categories"]
    meta = read_checkpoint(run / "checkpoint_last.ckpt")["meta"]
    assert list(meta["classes"]) == ["background", *(c["name"] for c in categories)]
