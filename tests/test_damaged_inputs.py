"""A corpus of damaged inputs through the four training scripts and a prediction tool: each
gets a one-line error naming the file (exit code 2), or with --skip-bad a counted skip;
never a traceback, never a silently wrong result."""

import io
import json
import shutil

import pytest
from conftest import segmentation_args, voc_folder
from PIL import Image
from test_train_detection import ssd_args
from test_train_keypoints import pose_args
from test_train_mask_rcnn import mask_args

import train_detection as td
import train_keypoints as tk
import train_mask_rcnn as tm
import train_segmentation as ts
from gluonext.common.images import image_problem, read_rgb
from gluonext.sample.writers import write_fashionai


def truncate(path):
    """The first 40% of the file's bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])


def empty(path):
    path.write_bytes(b"")


def png_as_jpeg(path):
    """PNG bytes under a .jpg name: a complete image in another format, which is accepted."""
    buffer = io.BytesIO()
    with Image.open(path) as image:
        image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


DAMAGES = [(truncate, "truncated JPEG"), (empty, "empty file")]


def _errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


def test_the_image_checks_themselves(tmp_path):
    from gluonext.sample.writers import write_clothing13

    write_clothing13(tmp_path, 3, seed=1, size=(48, 64), progress=False)
    jpgs = sorted(tmp_path.glob("*.jpg"))
    truncate(jpgs[0])
    png_as_jpeg(jpgs[1])
    pngs = sorted(tmp_path.glob("*.png"))
    truncate(pngs[2])
    assert "truncated JPEG" in image_problem(jpgs[0])
    with pytest.raises(OSError, match="truncated JPEG"):
        read_rgb(jpgs[0])  # OpenCV alone would decode it, grey where the bytes are missing
    assert image_problem(jpgs[1]) is None and read_rgb(jpgs[1]).shape == (64, 48, 3)
    assert "truncated PNG" in image_problem(pngs[2])
    assert image_problem(jpgs[2], (10, 10)).startswith("image is 64x48")


@pytest.mark.parametrize(("damage", "message"), DAMAGES)
def test_segmentation_names_a_damaged_image_or_skips_it(
    tiny_converted, tmp_path, caplog, damage, message
):
    root = tmp_path / "data"
    shutil.copytree(tiny_converted, root)
    train = json.loads((root / "annotations" / "instances_train.json").read_text())
    victim = root / "train" / train["images"][0]["file_name"]
    damage(victim)
    args = segmentation_args(root, tmp_path / "run", "--epochs", "1")
    assert ts.run(args) == 2
    (error,) = _errors(caplog)
    assert victim.name in error and message in error and "\n" not in error
    assert ts.run([*args, "--skip-bad"]) == 0
    assert f"train: 1 left out ({message})" in caplog.text


def test_segmentation_accepts_png_bytes_under_a_jpg_name(tiny_converted, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_converted, root)
    train = json.loads((root / "annotations" / "instances_train.json").read_text())
    png_as_jpeg(root / "train" / train["images"][0]["file_name"])
    assert ts.run(segmentation_args(root, tmp_path / "run", "--epochs", "1")) == 0


def test_segmentation_annotation_faults_are_counted_or_named(tiny_converted, tmp_path, caplog):
    root = tmp_path / "data"
    shutil.copytree(tiny_converted, root)
    path = root / "annotations" / "instances_val.json"
    payload = json.loads(path.read_text())
    anns = [a for a in payload["annotations"] if a["category_id"] < 13]  # the painted ones
    anns[0]["image_id"] = 99999  # unknown image
    anns[1]["segmentation"] = []  # empty segmentation
    anns[2]["segmentation"] = {"size": [4, 4]}  # malformed RLE
    path.write_text(json.dumps(payload))
    args = segmentation_args(root, tmp_path / "run", "--epochs", "1")
    assert ts.run(args) == 0
    for reason in ("image_id not in images", "empty segmentation", "RLE segmentation without"):
        assert f"val: 1 left out ({reason}" in caplog.text, reason
    payload["images"][0]["height"] = -5
    path.write_text(json.dumps(payload))
    caplog.clear()
    assert ts.run(args) == 2
    (error,) = _errors(caplog)
    assert "instances_val.json" in error and "sizes must be positive" in error


def test_segmentation_refuses_a_split_from_another_conversion(tiny_converted, tmp_path, caplog):
    root = tmp_path / "data"
    shutil.copytree(tiny_converted, root)
    path = root / "annotations" / "instances_val.json"
    payload = json.loads(path.read_text())
    payload["info"]["conversion"]["id"] = "0123456789abcdef"
    path.write_text(json.dumps(payload))
    assert ts.run(segmentation_args(root, tmp_path / "run", "--epochs", "1")) == 2
    assert "come from different conversions" in _errors(caplog)[0]
    train = json.loads((root / "annotations" / "instances_train.json").read_text())
    payload["info"] = train["info"]
    payload["images"].append(train["images"][0])
    path.write_text(json.dumps(payload))
    caplog.clear()
    assert ts.run(segmentation_args(root, tmp_path / "run", "--epochs", "1")) == 2
    assert "also training images" in _errors(caplog)[0]


def test_mask_rcnn_empty_validation_segmentation_is_left_out_not_a_crash(tmp_path, caplog):
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path / "data"
    write_imaterialist(root, 5, seed=21, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=2, categories="main", progress=False))
    path = root / "annotations" / "instances_val.json"
    payload = json.loads(path.read_text())
    payload["annotations"][0]["segmentation"] = []
    path.write_text(json.dumps(payload))
    args = mask_args(root, tmp_path / "run", "--epochs", "1")
    assert tm.run(args) == 0  # pycocotools never sees the empty segmentation
    assert "1 annotations left out (empty segmentation)" in caplog.text
    truncate(root / "train" / json.loads(path.read_text())["images"][0]["file_name"])
    caplog.clear()
    assert tm.run(args) == 2 and "truncated JPEG" in _errors(caplog)[0]
    assert tm.run([*args, "--skip-bad"]) == 0


def test_detection_skips_damaged_images_and_size_mismatches(tmp_path, caplog):
    root = tmp_path / "voc"
    train, _ = voc_folder(root)
    truncate(root / f"{train[0]}.jpg")
    xml = root / f"{train[1]}.xml"
    xml.write_text(xml.read_text().replace("<width>96</width>", "<width>90</width>"))
    args = ssd_args(root, tmp_path / "run", "--epochs", "1")
    assert td.run(args) == 2
    (error,) = _errors(caplog)
    assert f"{train[0]}.xml" in error and "truncated JPEG" in error
    assert td.run([*args, "--skip-bad"]) == 0
    assert "2 files skipped" in caplog.text


def test_keypoints_damaged_images_and_duplicate_ids(tmp_path, caplog):
    root = tmp_path / "fashionai"
    write_fashionai(root, 10, seed=8, size=(64, 64), progress=False)
    csv_path = root / "Annotations" / "train.csv"
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join([*lines, lines[3]]) + "\n")  # row 3 again at the end
    image_id = lines[1].split(",")[0]
    args = pose_args(root, tmp_path / "run", "--input-size", "32x32", "--epochs", "1")
    assert tk.run(args) == 2
    assert "duplicate image_id" in _errors(caplog)[0]
    empty(root / image_id)
    caplog.clear()
    assert tk.run([*args, "--skip-bad"]) == 0
    assert "1 duplicate" in caplog.text and "1 not readable" in caplog.text


def test_prediction_names_damaged_images_and_reads_png_bytes(tiny_converted, tmp_path):
    import predict_segmentation

    run = tmp_path / "run"
    assert ts.run(segmentation_args(tiny_converted, run, "--epochs", "1")) == 0
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((tiny_converted / "train").glob("*.jpg"))[:3]
    for src in sources:
        shutil.copy(src, photos / src.name)
    truncate(photos / sources[0].name)
    empty(photos / sources[1].name)
    png_as_jpeg(photos / sources[2].name)
    argv = ["--checkpoint", str(run / "checkpoint_best.ckpt"), "--input", str(photos),
            "--output", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert predict_segmentation.main(predict_segmentation.parse_args(argv)) == 0
    summary = json.loads((tmp_path / "out" / "class_fractions.json").read_text())
    assert list(summary["images"]) == [sources[2].name]
    reasons = {s["file"].rsplit("/", 1)[-1]: s["reason"] for s in summary["skipped"]}
    assert "truncated JPEG" in reasons[sources[0].name]
    assert "empty file" in reasons[sources[1].name]


@pytest.mark.parametrize("kind", ["a file", "under /proc"])
def test_a_save_dir_that_cannot_be_written_is_one_line(tiny_converted, tmp_path, caplog, kind):
    save_dir = tmp_path / "taken"
    if kind == "a file":
        save_dir.write_text("not a folder")
    else:
        save_dir = "/proc/gluonext-run"
    assert ts.run(segmentation_args(tiny_converted, save_dir, "--epochs", "1")) == 2
    (error,) = _errors(caplog)
    assert f"--save-dir {save_dir}" in error and "\n" not in error


def _damaged_folder(sources, folder):
    """A good image, a truncated one, an empty one and PNG bytes under .jpg."""
    folder.mkdir()
    names = ["good.jpg", "cut.jpg", "empty.jpg", "png.jpg"]
    for name, src in zip(names, sources, strict=False):
        shutil.copy(src, folder / name)
    truncate(folder / "cut.jpg")
    empty(folder / "empty.jpg")
    png_as_jpeg(folder / "png.jpg")
    return folder


def _check_skips(report):
    reasons = {str(f).rsplit("/", 1)[-1]: r for f, r in report["skipped"]}
    assert report["done"] == 2  # the good image and the PNG bytes
    assert "truncated JPEG" in reasons["cut.jpg"] and "empty file" in reasons["empty.jpg"]


def test_the_other_prediction_tools_skip_damaged_images_by_name(tmp_path):
    from gluonext import load_predictor
    from gluonext.detection.predict import DetectionPredictOptions
    from gluonext.detection.predict import predict_folder as predict_boxes
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.instance.predict import InstancePredictOptions
    from gluonext.instance.predict import predict_folder as predict_instances
    from gluonext.keypoints.predict import KeypointPredictOptions
    from gluonext.keypoints.predict import predict_folder as predict_points
    from gluonext.sample.writers import write_imaterialist

    data = tmp_path / "im"
    write_imaterialist(data, 5, seed=21, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=data, val_num=2, categories="main", progress=False))
    assert tm.run(mask_args(data, tmp_path / "mask", "--epochs", "1", "--no-val")) == 0
    photos = _damaged_folder(sorted((data / "train").glob("*.jpg")), tmp_path / "photos_m")
    options = InstancePredictOptions(tmp_path / "mask" / "checkpoint_last.ckpt", photos,
                                     tmp_path / "out_m", progress=False)  # fmt: skip
    _check_skips(predict_instances(options, load_predictor(options.checkpoint)))

    voc = tmp_path / "voc"
    voc_folder(voc)
    assert td.run(ssd_args(voc, tmp_path / "ssd", "--epochs", "1", "--no-val")) == 0
    photos = _damaged_folder(sorted(voc.glob("*.jpg")), tmp_path / "photos_d")
    options = DetectionPredictOptions(tmp_path / "ssd" / "checkpoint_last.ckpt", photos,
                                      tmp_path / "out_d", progress=False)  # fmt: skip
    _check_skips(predict_boxes(options, load_predictor(options.checkpoint)))

    fashion = tmp_path / "fashionai"
    write_fashionai(fashion, 10, seed=8, size=(64, 64), progress=False)
    args = pose_args(fashion, tmp_path / "pose", "--input-size", "32x32", "--epochs", "1")
    assert tk.run([*args, "--no-val"]) == 0
    photos = _damaged_folder(sorted(fashion.rglob("*.jpg")), tmp_path / "photos_k")
    options = KeypointPredictOptions(tmp_path / "pose" / "checkpoint_last.ckpt",
                                     tmp_path / "out_k", input=photos, category="skirt",
                                     progress=False)  # fmt: skip
    _check_skips(predict_points(options, load_predictor(options.checkpoint)))
