"""Every family the scripts train goes to an MXNet symbol (and to ONNX where it converts) with
its outputs checked against the checkpoint's network, on real generated photos."""

import json
import subprocess
import sys

import export_model as cli
import numpy as np
import pytest

from gluonext import load_predictor
from gluonext.common.images import read_rgb
from gluonext.deploy.export import export_model

pytestmark = pytest.mark.xdist_group("deploy")

ONNX_FAMILIES = ["seg_deeplabv3plus", "seg_psp", "seg_fcn", "ssd", "yolo3", "simple_pose",
                 "faster_rcnn", "mask_rcnn"]
TASK = {"ssd": "detection", "yolo3": "detection", "faster_rcnn": "detection",
        "simple_pose": "keypoints", "mask_rcnn": "instances"}  # fmt: skip


def _images(photos):
    return [read_rgb(p) for p in photos]


def _same(task, a, b):
    from gluonext.deploy.export import same_results

    return same_results(task, a, b)


@pytest.mark.parametrize("family", ONNX_FAMILIES)
def test_symbol_and_onnx_reproduce_the_checkpoint(family, checkpoints, photos, tmp_path):
    ckpt = checkpoints(family)
    report = export_model(ckpt, tmp_path / "export", images=[str(p) for p in photos])
    assert report.written == ["symbol", "onnx"], report.refused
    spec = json.loads((tmp_path / "export" / "model.json").read_text())
    task = TASK.get(family, "segmentation")
    assert spec["task"] == task and spec["files"]["onnx"] == "model.onnx"
    for form in ("symbol", "onnx"):
        parity = spec["parity"][form]
        # one epoch leaves detectors unsure: near-tied scores, whose NMS order noise decides
        # (the trained SSD of tests/test_train_detection.py must give the same boxes)
        assert parity["within_tolerance"] and (parity["same_results"] or parity["noise_explains"])
        assert parity["images"] == 4
    if family == "mask_rcnn":  # with Fashionpedia's attribute head
        assert len(spec["attributes"]) == 92 and len(spec["outputs"]) == 5
        check_attribute_rows(tmp_path / "export" / "model.onnx", load_predictor(ckpt), photos)
    if task in ("segmentation", "keypoints"):  # logits and heatmaps: 1e-4 absolute
        assert max(spec["parity"]["onnx"]["max_abs_diff"]) < 1e-4
    reference = load_predictor(ckpt)
    images = _images(photos)
    if family.endswith("rcnn"):  # any image size: three sizes (parts, VOC, FashionAI)
        images = [images[0], images[3], images[-1]]
    for backend in ("symbol", "onnx"):
        exported = load_predictor(tmp_path / "export", backend=backend)
        assert exported.runner.name == backend and exported.task == task
        for image in images:
            assert _same(task, reference(image), exported(image)), (family, backend)
    # every optimisation level: on one image for the R-CNNs (each session builds a big graph)
    plain = images[:1] if family.endswith("rcnn") else images
    check_plain_sessions(tmp_path / "export" / "model.onnx", reference, plain)


def check_attribute_rows(path, reference, photos):
    """The attribute head's fifth output in ``onnxruntime.InferenceSession``: every detection
    ONNX Runtime finds that the checkpoint finds too (class and box) has its attribute
    probabilities, whatever order tied scores take (a one-epoch RPN scores many proposals
    alike, so the two runtimes share only some of their weak rows; the trained rows are
    compared in order by ``check_plain_sessions``)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path))
    matched = 0
    for photo in photos:
        batch, _ = reference.prepare(read_rgb(photo))
        ours = reference.runner(batch)
        theirs = session.run(None, {session.get_inputs()[0].name: batch})
        assert len(theirs) == 5 and theirs[4].shape == (1, theirs[0].shape[1], 92)
        for k in np.flatnonzero(theirs[0][0, :, 0] >= 0):
            same = np.flatnonzero((ours[0][0, :, 0] == theirs[0][0, k, 0])
                                  & (np.abs(ours[2][0] - theirs[2][0, k]).max(axis=1) < 1e-3))
            if len(same):
                matched += 1
                np.testing.assert_allclose(theirs[4][0, k], ours[4][0, same[0]], atol=1e-4)
    assert matched >= 4


def check_plain_sessions(path, reference, images, tolerance=1e-4):
    """``model.onnx`` alone, as a user loads it: ``onnxruntime.InferenceSession(path)`` with
    the default options, and at each optimisation level, gives the checkpoint's raw outputs
    on the photos (within the export's tolerance, relative to each output's size)."""
    import onnxruntime as ort

    from gluonext.deploy.export import shown_rows, tie_order
    from gluonext.engine.export import max_differences

    level = ort.GraphOptimizationLevel
    levels = [level.ORT_DISABLE_ALL, level.ORT_ENABLE_BASIC, level.ORT_ENABLE_EXTENDED,
              level.ORT_ENABLE_ALL]  # fmt: skip
    sessions = [ort.InferenceSession(str(path))]
    for chosen in levels:
        options = ort.SessionOptions()
        options.graph_optimization_level = chosen
        sessions.append(ort.InferenceSession(str(path), options))
    for image in images:
        batch, _ = reference.prepare(image)
        expected = reference.runner(batch)
        scale = [max(1.0, float(np.abs(e[np.isfinite(e)]).max(initial=0))) for e in expected]
        for session, name in zip(sessions, ["default", *levels], strict=True):
            outputs = session.run(None, {session.get_inputs()[0].name: batch})
            wanted = expected
            if reference.any_input_size:  # R-CNN: the export's own rule for sorted rows
                wanted, outputs = shown_rows(tie_order(expected), tie_order(outputs))
            gaps = max_differences(wanted, outputs)
            assert all(g <= tolerance * s for g, s in zip(gaps, scale, strict=True)), (name, gaps)


def test_the_export_loads_without_gluonext(checkpoints, photos, tmp_path):
    """A user with MXNet alone (SymbolBlock) and one with ONNX Runtime alone get the
    checkpoint's logits."""
    export_model(checkpoints("seg_deeplabv3plus"), tmp_path / "e", images=[str(photos[0])])
    predictor = load_predictor(checkpoints("seg_deeplabv3plus"))
    batch, _ = predictor.prepare(read_rgb(photos[0]))
    np.save(tmp_path / "batch.npy", batch)
    expected = predictor.runner(batch)[0]
    script = f"""
import sys, numpy as np
folder, batch = {str(tmp_path / "e")!r}, np.load({str(tmp_path / "batch.npy")!r})
if sys.argv[1] == "symbol":
    import mxnet as mx
    net = mx.gluon.SymbolBlock.imports(folder + "/model-symbol.json", ["data"],
                                       folder + "/model-0000.params")
    out = net(mx.nd.array(batch)).asnumpy()
else:
    import onnxruntime as ort
    session = ort.InferenceSession(folder + "/model.onnx", providers=["CPUExecutionProvider"])
    out = session.run(None, {{"data": batch}})[0]
assert "gluonext" not in sys.modules
np.save(folder + "/" + sys.argv[1] + ".npy", out)
"""
    for form in ("symbol", "onnx"):
        subprocess.run([sys.executable, "-c", script, form], check=True, cwd=tmp_path)
        got = np.load(tmp_path / "e" / f"{form}.npy")
        assert np.abs(got - expected).max() < 1e-4


def test_model_json_carries_what_a_user_needs(checkpoints, photos, tmp_path):
    export_model(checkpoints("simple_pose"), tmp_path / "e", images=[str(photos[-1])])
    spec = json.loads((tmp_path / "e" / "model.json").read_text())
    assert spec["input"]["height"] == 64 and spec["input"]["width"] == 64
    assert spec["input"]["mean"] == pytest.approx([123.675, 116.28, 103.53], abs=1e-3)
    assert len(spec["keypoints"]["names"]) == 24 and ["neckline_left", "neckline_right"] in [
        [spec["keypoints"]["names"][a], spec["keypoints"]["names"][b]]
        for a, b in spec["keypoints"]["flip_pairs"]
    ]
    assert spec["checkpoint"]["epoch"] == 1 and "train_loss" in spec["checkpoint"]["metrics"]


def test_export_replaces_an_old_one_whole(checkpoints, photos, tmp_path):
    out = tmp_path / "e"
    export_model(checkpoints("seg_fcn"), out, images=[str(photos[0])])
    assert (out / "model.onnx").is_file()
    export_model(checkpoints("seg_fcn"), out, formats=("symbol",), images=[str(photos[0])])
    assert not (out / "model.onnx").exists()  # not left beside a model.json that omits it
    assert "onnx" not in json.loads((out / "model.json").read_text())["files"]
    assert sorted(p.name for p in out.iterdir()) == [
        "model-0000.params", "model-symbol.json", "model.json"]  # fmt: skip


def test_bad_requests_are_one_line(checkpoints, tmp_path):
    from gluonext.common.cli import run_tool

    ckpt = str(checkpoints("seg_fcn"))
    with pytest.raises(SystemExit):
        cli.parse_args(["--checkpoint", ckpt, "--output", str(tmp_path), "--format", "tflite"])
    empty = tmp_path / "empty"
    empty.mkdir()
    args = cli.parse_args(["--checkpoint", ckpt, "--output", str(tmp_path / "o"), "--images",
                           str(empty)])  # fmt: skip
    assert run_tool(cli.main, args) == 2
    args = cli.parse_args(["--checkpoint", str(tmp_path / "missing.ckpt"), "--output",
                           str(tmp_path / "o")])  # fmt: skip
    assert run_tool(cli.main, args) == 2
