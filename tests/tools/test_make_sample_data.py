import csv

import make_sample_data
import pytest


def test_cli_writes_the_format(tmp_path):
    out = tmp_path / "fa"
    args = make_sample_data.parse_args(
        [
            "--format",
            "fashionai",
            "--output",
            str(out),
            "--num-images",
            "2",
            "--image-size",
            "96x96",
            "--no-progress",
        ]
    )
    assert make_sample_data.main(args) == 0
    with open(out / "Annotations" / "train.csv", newline="") as handle:
        assert len(list(csv.reader(handle))) == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "coco"],
        ["--format", "voc", "--image-size", "12x9"],
        ["--format", "voc", "--image-size", "big"],
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, argv, capsys):
    with pytest.raises(SystemExit):
        make_sample_data.parse_args([*argv, "--output", str(tmp_path)])
    assert "error" in capsys.readouterr().err
