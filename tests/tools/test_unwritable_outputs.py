"""Every tool given an output it cannot write (here: a path under /proc, which even root cannot
create) stops with one line on stderr naming the path, exit code 2, and no traceback."""

import subprocess
import sys

import pytest
from conftest import REPO

NOWHERE = "/proc/gluonext-nowhere/out"


def _tool(name, *argv):
    command = [sys.executable, str(REPO / "tools" / f"{name}.py"), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("tool", "argv"),
    [
        ("convert_imaterialist_to_coco", ["--output-dir", NOWHERE, "--no-progress"]),
        ("make_sample_data", ["--format", "voc", "--output", NOWHERE, "--num-images", "2"]),
        ("predict_segmentation", ["--checkpoint", "x.ckpt", "--input", ".", "--output", NOWHERE]),
        ("predict_instances", ["--checkpoint", "x.ckpt", "--input", ".", "--output", NOWHERE]),
        ("predict_detection", ["--checkpoint", "x.ckpt", "--input", ".", "--output", NOWHERE]),
        ("predict_keypoints", ["--checkpoint", "x.ckpt", "--input", ".", "--output", NOWHERE]),
        ("voc_to_csv", ["--output", f"{NOWHERE}/labels.csv"]),
        ("split_dataset", ["--output", NOWHERE]),
        ("imaterialist_submission", ["--predictions", "p.json", "--output", f"{NOWHERE}/s.csv"]),
        ("fashionai_submission", ["--results", "r.csv", "--output", f"{NOWHERE}/s.csv"]),
        ("pretrain_backbone", ["--network", "mobilenet0.25", "--output", f"{NOWHERE}/w.params"]),
    ],
)
def test_an_unwritable_output_is_one_line(imaterialist_sample, tmp_path, tool, argv):
    if tool in ("convert_imaterialist_to_coco",):
        argv = ["--data-root", str(imaterialist_sample), *argv]
    if tool in ("voc_to_csv", "split_dataset"):
        argv = ["--input", str(imaterialist_sample), *argv]
    if tool == "fashionai_submission":  # inputs are checked first: give it a valid one
        from gluonext.keypoints.submission import ABSENT, HEADER

        results = tmp_path / "r.csv"
        row = ["Images/skirt/a.jpg", "skirt", *[ABSENT] * (len(HEADER) - 2)]
        results.write_text(",".join(HEADER) + "\n" + ",".join(row) + "\n")
        argv = [str(results) if a == "r.csv" else a for a in argv]
    done = _tool(tool, *argv)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "gluonext-nowhere" in errors[0], done.stderr[-2000:]
