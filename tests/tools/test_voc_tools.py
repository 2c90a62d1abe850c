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
