import csv

import pytest
import split_dataset
import voc_to_csv

from gluonext.common.splits import split_by_image
from gluonext.formats.labelimg import read_split, scan_voc_folder
from gluonext.formats.labelimg_tables import CSV_HEADER
from gluonext.sample.writers import write_voc


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc_tools")
    write_voc(root, 20, seed=9, size=(128, 160), progress=False)
    return root


def test_voc_to_csv_writes_one_row_per_box_with_the_xml_numbers(voc, tmp_path):
    out = tmp_path / "labels.csv"
    assert voc_to_csv.main(voc_to_csv.parse_args(["--input", str(voc), "--output", str(out)])) == 0
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_HEADER
    records, _ = scan_voc_folder(voc)
    assert len(rows) - 1 == sum(len(r.objects) for r in records)
    first = records[0]
    assert rows[1][:4] == [first.image.name, "128", "160", first.objects[0].name]
    assert [float(v) for v in rows[1][4:]] == list(first.objects[0].box)


def test_split_is_by_image_seeded_and_tabulated(voc, tmp_path):
    args = ["--input", str(voc), "--output", str(tmp_path), "--ratio", "0.8", "--seed", "3"]
    assert split_dataset.main(split_dataset.parse_args(args)) == 0
    train, test = read_split(tmp_path / "train.txt"), read_split(tmp_path / "test.txt")
    assert len(train) == 16 and len(test) == 4 and not set(train) & set(test)
    assert (train, test) == split_by_image([p.stem for p in voc.glob("*.xml")], 0.8, 3)
    assert split_by_image(train + test, 0.8, 4) != (train, test)
    with open(tmp_path / "split_table.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    total = table[-1]
    assert total["class"] == "total"
    for row in table:
        assert int(row["train"]) + int(row["test"]) == int(row["total"])
    with open(tmp_path / "train_labels.csv", newline="") as handle:
        train_rows = list(csv.DictReader(handle))
    assert len(train_rows) == int(total["train"])
    assert {r["filename"].rsplit(".", 1)[0] for r in train_rows} <= set(train)
    assert split_dataset.main(split_dataset.parse_args([*args[:4], "--ratio", "1.5"])) == 2


def test_a_split_killed_at_any_write_leaves_the_old_five_files_or_the_new(voc, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from gluonext.formats.voc_layout import voc_parts

    tool = Path(split_dataset.__file__)
    names = ("train.txt", "test.txt", "train_labels.csv", "test_labels.csv", "split_table.csv")

    def split(out, seed, **env):
        command = [sys.executable, str(tool), "--input", str(voc), "--output", str(out),
                   "--seed", str(seed)]  # fmt: skip
        return subprocess.run(command, env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    def files(out):
        return {n: (out / n).read_text() for n in names}

    out = tmp_path / "out"
    assert split(out, 1).returncode == 0
    old = files(out)
    trace = tmp_path / "trace.txt"
    assert split(out, 2, GLUONEXT_KILL_TRACE=str(trace)).returncode == 0
    new = files(out)
    assert new["train.txt"] != old["train.txt"]
    points = trace.read_text().splitlines()
    assert len(points) >= 6, points  # the journal and each of the five moves
    for point in points:
        assert split(out, 1).returncode == 0  # back to the old split
        killed = split(out, 2, GLUONEXT_KILL_AT=point)
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
        journal = (out / ".publish.json").is_file()
        if not journal:
            assert files(out) == old, point
        train, val = voc_parts(out)  # the reader completes what the kill interrupted
        assert files(out) == (new if journal else old), point
        assert "\n".join(train[0].stems) + "\n" == files(out)["train.txt"], point
