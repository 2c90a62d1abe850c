import json
from pathlib import Path

import numpy as np
import predict_segmentation as cli
import pytest
from conftest import segmentation_args
from PIL import Image

import train_segmentation as ts
from gluonext.common.cli import run_tool


@pytest.fixture(scope="module")
def checkpoint(tiny_converted, tmp_path_factory):
    run = tmp_path_factory.mktemp("pred") / "run"
    args = segmentation_args(tiny_converted, run, "--epochs", "1", model="deeplabv3plus")
    assert ts.main(ts.parse_args(args)) == 0
    return run / "checkpoint_best.ckpt", tiny_converted


def test_folder_prediction_writes_masks_overlays_and_fractions(checkpoint, tmp_path):
    ckpt, root = checkpoint
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((root / "train").glob("*.jpg"))[:2]
    for src in sources:
        (photos / src.name).write_bytes(src.read_bytes())
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (photos / "notes.txt").write_text("hello")
    out = tmp_path / "out"
    args = cli.parse_args(
        [
            "--checkpoint",
            str(ckpt),
            "--input",
            str(photos),
            "--output",
            str(out),
            "--no-progress",
            "--scales",
            "0.75,1.0",
            "--flip",
        ]
    )
    assert cli.main(args) == 0
    summary = json.loads((out / "class_fractions.json").read_text())
    assert summary["classes"] == ["background", "upper body", "lower body", "whole body"]
    assert sorted(summary["images"]) == sorted(s.name for s in sources)
    assert {s["file"].split("/")[-1] for s in summary["skipped"]} == {"broken.jpg", "notes.txt"}
    for src in sources:
        fractions = summary["images"][src.name]
        assert sum(fractions.values()) == pytest.approx(1.0, abs=1e-3)
        with Image.open(src) as original, Image.open(out / f"{src.stem}_mask.png") as mask:
            assert mask.size == original.size and mask.mode == "P"
            assert mask.getpalette()[3:6] == [255, 0, 0]  # the parts mode's red for upper body
            assert set(np.unique(np.asarray(mask))) <= {0, 1, 2, 3}
        with Image.open(out / f"{src.stem}_overlay.jpg") as blended:
            assert blended.size == original.size


def test_single_image_and_missing_input(checkpoint, tmp_path, capsys):
    ckpt, root = checkpoint
    image = sorted((root / "train").glob("*.jpg"))[0]
    out = tmp_path / "one"
    assert (
        cli.main(
            cli.parse_args(
                [
                    "--checkpoint",
                    str(ckpt),
                    "--input",
                    str(image),
                    "--output",
                    str(out),
                    "--no-progress",
                ]
            )
        )
        == 0
    )
    assert (out / f"{image.stem}_mask.png").is_file()
    code = run_tool(
        cli.main,
        cli.parse_args(
            [
                "--checkpoint",
                str(ckpt),
                "--input",
                str(tmp_path / "nope"),
                "--output",
                str(tmp_path / "o2"),
                "--no-progress",
            ]
        ),
    )
    assert code == 2 and "no such file or folder" in capsys.readouterr().err


def test_annotations_keep_only_the_validation_images(checkpoint, tmp_path):
    ckpt, root = checkpoint
    val_json = root / "annotations" / "instances_val.json"
    val_names = {Path(i["file_name"]).name for i in json.loads(val_json.read_text())["images"]}
    out = tmp_path / "val"
    argv = ["--checkpoint", str(ckpt), "--input", str(root / "train"), "--output", str(out)]
    assert cli.main(cli.parse_args([*argv, "--annotations", str(val_json), "--no-progress"])) == 0
    summary = json.loads((out / "class_fractions.json").read_text())
    assert set(summary["images"]) == val_names and 0 < len(val_names) < 24
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    args = cli.parse_args([*argv, "--annotations", str(broken), "--no-progress"])
    assert run_tool(cli.main, args) == 2


def test_photos_are_turned_upright_by_exif_and_gif_reads_its_first_frame(checkpoint, tmp_path):
    """A phone photo stored landscape with EXIF orientation 6 (shown portrait) is segmented as
    shown, unless --ignore-exif; a GIF gives its first frame."""
    ckpt, root = checkpoint
    source = sorted((root / "train").glob("*.jpg"))[0]
    photos = tmp_path / "photos"
    photos.mkdir()
    with Image.open(source) as picture:
        stored = picture.convert("RGB").transpose(Image.Transpose.ROTATE_90)  # stored turned
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
        stored.save(photos / "phone.jpg", exif=exif, quality=95)
        picture.convert("RGB").save(photos / "clip.gif", save_all=True,
                                    append_images=[stored.resize(picture.size)])  # fmt: skip
        shown = picture.size
    for flags, size in (([], shown), (["--ignore-exif"], stored.size)):
        out = tmp_path / f"out{len(flags)}"
        argv = ["--checkpoint", str(ckpt), "--input", str(photos), "--output", str(out),
                "--no-progress", *flags]  # fmt: skip
        assert cli.main(cli.parse_args(argv)) == 0
        with Image.open(out / "phone_mask.png") as mask:
            assert mask.size == size
        with Image.open(out / "clip_mask.png") as mask:
            assert mask.size == shown
        assert json.loads((out / "class_fractions.json").read_text())["skipped"] == []
