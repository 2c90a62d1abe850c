"""``--format onnx-int8``: a quantized model calibrated on the run's training images, scored
beside the fp32 model on the run's held-out images with the task's metric, refused past
``--max-drop``, and run by a plain ONNX Runtime session and by ``load_predictor``."""

import json

import export_model as cli
import numpy as np
import onnxruntime as ort
import pytest

from gluonext import load_predictor
from gluonext.common.cli import run_tool
from gluonext.common.images import read_rgb
from gluonext.deploy.export import Int8Options, export_model
from gluonext.deploy.held_out import RunData, run_data
from gluonext.deploy.quantize import operator_counts

pytestmark = pytest.mark.xdist_group("deploy")

FORMATS = ("symbol", "onnx", "onnx-int8")
METRIC = {"seg_fcn": "mIoU (points)", "ssd": "VOC07 mAP (points)", "simple_pose": "NE (%)"}


@pytest.mark.parametrize("family", list(METRIC))
def test_int8_is_scored_on_held_out_images_and_runs_in_a_plain_session(
    family, checkpoints, photos, tmp_path
):
    ckpt, out = checkpoints(family), tmp_path / "e"
    # one epoch on a few pictures: metrics of an untrained model, which INT8 may move by
    # points (NE 128.7 -> 130.8 on 2 images); the drop of trained models is in the README
    report = export_model(ckpt, out, FORMATS, images=[str(photos[0])],
                          int8=Int8Options(calib_images=5, max_drop=50.0))  # fmt: skip
    assert report.written == list(FORMATS), report.refused
    spec = json.loads((out / "model.json").read_text())
    assert spec["files"]["onnx-int8"] == "model-int8.onnx"
    found = spec["onnx-int8"]
    run = run_data(ckpt)
    assert found["metric"] == METRIC[family]
    assert found["calibration_images"] == min(5, len(run.train))
    assert found["held_out_images"] == len(run.held_out) > 0
    # the figures are the task's metric of the two models a user loads
    fp32 = load_predictor(out, backend="onnx")
    int8 = load_predictor(out, backend="onnx-int8")
    assert int8.runner.name == "onnx-int8" and fp32.runner.name == "onnx"
    assert run.score(fp32) == pytest.approx(found["fp32"], abs=1e-3)
    assert run.score(int8) == pytest.approx(found["int8"], abs=1e-3)
    assert found["drop"] == pytest.approx(run.metric.drop(found["fp32"], found["int8"]), abs=2e-3)
    # quantized (QDQ), BatchNorm folded, and the file alone runs in a default session
    counts = operator_counts(out / "model-int8.onnx")
    assert counts["QuantizeLinear"] > 0 and counts["DequantizeLinear"] > 0
    assert "BatchNormalization" not in counts, counts
    batch, _ = fp32.prepare(read_rgb(photos[0]))
    expected = ort.InferenceSession(str(out / "model.onnx")).run(None, {"data": batch})
    got = ort.InferenceSession(str(out / "model-int8.onnx")).run(None, {"data": batch})
    assert [g.shape for g in got] == [e.shape for e in expected]
    assert all(np.isfinite(g).all() for g in got)


def test_int8_that_loses_more_than_max_drop_is_refused_with_the_figures(
    checkpoints, photos, tmp_path, monkeypatch
):
    ckpt, out = checkpoints("seg_fcn"), tmp_path / "e"
    export_model(ckpt, out, FORMATS, images=[str(photos[0])],
                 int8=Int8Options(calib_images=3, max_drop=50.0))  # fmt: skip
    assert (out / "model-int8.onnx").is_file()

    def score(self, predictor, limit=None, progress=None):  # INT8 10 points worse
        return 40.0 if predictor.runner.name == "onnx-int8" else 50.0

    monkeypatch.setattr(RunData, "score", score)
    args = cli.parse_args(["--checkpoint", str(ckpt), "--output", str(out), "--format",
                           ",".join(FORMATS), "--images", str(photos[0]), "--calib-images", "3",
                           "--max-drop", "9.5"])  # fmt: skip
    assert cli.main(args) == 1  # asked for a form it did not write
    spec = json.loads((out / "model.json").read_text())
    reason = spec["onnx-int8"]["reason"]
    assert reason.startswith("loses 10.00 mIoU (points) on ")
    assert "(50.00 fp32, 40.00 INT8)" in reason
    assert reason.endswith("more than --max-drop 9.5")
    assert spec["onnx-int8"]["drop"] == 10.0 and "onnx-int8" not in spec["files"]
    assert not (out / "model-int8.onnx").exists()  # the earlier export's is gone with it
    assert (out / "model.onnx").is_file()
    with pytest.raises(Exception, match="loses 10.00"):
        load_predictor(out, backend="onnx-int8")


def test_int8_of_a_mask_rcnn_is_scored_by_mask_ap(checkpoints, photos, tmp_path):
    ckpt = checkpoints("mask_rcnn")
    options = Int8Options(calib_images=2, held_out_images=4, max_drop=50.0)
    report = export_model(ckpt, tmp_path / "e", FORMATS, images=[str(photos[0])], int8=options)
    assert report.written == list(FORMATS), report.refused
    found = report.quantized["int8"]
    assert found["metric"] == "mask AP (points)" and found["held_out_images"] == 4
    int8 = load_predictor(tmp_path / "e", backend="onnx-int8")
    assert run_data(ckpt).score(int8, 4) == pytest.approx(found["int8"], abs=1e-3)
    image = read_rgb(photos[-1])  # another size than the calibration's
    assert int8(image).masks.shape[:2] == image.shape[:2]


def test_int8_bad_requests_are_one_line(checkpoints, photos, tmp_path, capsys):
    ckpt = str(checkpoints("simple_pose"))
    capsys.readouterr()  # the checkpoint's training, when this test made it
    base = ["--checkpoint", ckpt, "--output", str(tmp_path / "o"), "--format", "onnx-int8"]
    args = cli.parse_args([*base, "--data-root", str(tmp_path / "moved")])
    assert run_tool(cli.main, args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --data-root {tmp_path / 'moved'}: no such folder"], err
    assert not (tmp_path / "o" / "model.json").exists()
    for flag, value in (("--max-drop", "-1"), ("--max-drop", "nan"), ("--calib-images", "0")):
        with pytest.raises(SystemExit):
            cli.parse_args([*base, flag, value])
