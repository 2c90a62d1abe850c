import json
import shutil

import convert_imaterialist_to_coco as cli


def test_cli_converts_with_the_older_converters_spelling(imaterialist_sample, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(imaterialist_sample, root)
    args = cli.parse_args(
        ["--data_root", str(root), "--val-num", "3", "--categories", "main", "--no-progress"]
    )
    assert cli.main(args) == 0
    err = capsys.readouterr().err
    assert "train: 21 images" in err and "val: 3 images" in err
    payload = json.loads((root / "annotations" / "instances_val.json").read_text())
    assert len(payload["images"]) == 3
    assert (root / "annotations" / "convert.log").read_text().count("val: 3 images") == 1


def test_cli_reports_bad_input_without_a_traceback(imaterialist_sample, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(imaterialist_sample, root)
    (root / "train.csv").write_text("ImageId,EncodedPixels,Height,Width,ClassId\na.jpg,1 x,4,4,0\n")
    assert cli.main(cli.parse_args(["--data-root", str(root), "--no-progress"])) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "not a whole number" in err and "Traceback" not in err
    assert not (root / "annotations" / "instances_train.json").exists()
