import csv

import numpy as np
import pytest

from gluonext.errors import DatasetError
from gluonext.formats.fashionai import FASHIONAI_CATEGORY_KEYPOINTS, FASHIONAI_KEYPOINTS
from gluonext.keypoints.submission import (
    HEADER,
    TURNED_FILE,
    merge_results,
    read_test_list,
    submission_row,
    write_submission,
)


def test_rows_give_the_category_keypoints_as_integers_and_the_rest_absent():
    points = np.arange(48, dtype=np.float32).reshape(24, 2) + 0.4
    row = submission_row("Images/skirt/a.jpg", "skirt", points)
    assert row[:2] == ["Images/skirt/a.jpg", "skirt"] and len(row) == 26
    cells = dict(zip(FASHIONAI_KEYPOINTS, row[2:], strict=True))
    for name, cell in cells.items():
        if name in FASHIONAI_CATEGORY_KEYPOINTS["skirt"]:
            k = FASHIONAI_KEYPOINTS.index(name)
            assert cell == f"{2 * k}_{2 * k + 1}_1"
        else:
            assert cell == "-1_-1_-1"


def write(path, rows):
    write_submission(path, rows)
    return path


def test_merge_is_by_image_id_whatever_the_order(tmp_path):
    p = np.zeros((24, 2))
    blouse = [submission_row(f"Images/blouse/{k}.jpg", "blouse", p + k) for k in range(3)]
    skirt = [submission_row(f"Images/skirt/{k}.jpg", "skirt", p + 10 + k) for k in range(2)]
    files = [write(tmp_path / "b.csv", blouse[::-1]), write(tmp_path / "s.csv", skirt)]
    test = tmp_path / "test.csv"
    order = [("Images/skirt/1.jpg", "skirt"), ("Images/blouse/0.jpg", "blouse"),
             ("Images/blouse/2.jpg", "blouse"), ("Images/skirt/0.jpg", "skirt"),
             ("Images/blouse/1.jpg", "blouse")]  # fmt: skip
    with test.open("w", newline="") as handle:
        csv.writer(handle).writerows([["image_id", "image_category"], *order])
    rows, missing = merge_results(files, read_test_list(test))
    assert [r[0] for r in rows] == [image_id for image_id, _ in order] and not missing
    by_id = {r[0]: r for r in blouse + skirt}
    assert all(r == by_id[r[0]] for r in rows)  # each row is its own image's prediction
    out = write(tmp_path / "submission.csv", rows)
    assert next(csv.reader(out.open())) == HEADER


def test_conflicts_gaps_and_strangers_are_named(tmp_path):
    p = np.zeros((24, 2))
    a = write(tmp_path / "a.csv", [submission_row("Images/dress/x.jpg", "dress", p)])
    b = write(tmp_path / "b.csv", [submission_row("Images/dress/x.jpg", "dress", p + 1)])
    with pytest.raises(DatasetError, match="x.jpg is predicted in both .*a.csv and .*b.csv"):
        merge_results([a, b])
    order = [("Images/dress/x.jpg", "dress"), ("Images/dress/y.jpg", "dress")]
    with pytest.raises(DatasetError, match="1 test images have no prediction .*y.jpg"):
        merge_results([a], order)
    rows, missing = merge_results([a], order, allow_missing=True)
    assert missing == ["Images/dress/y.jpg"] and rows[1][2:] == ["-1_-1_-1"] * 24
    with pytest.raises(DatasetError, match="says dress, the test list says skirt"):
        merge_results([a], [("Images/dress/x.jpg", "skirt")])
    with pytest.raises(DatasetError, match="not in the test list"):
        merge_results([a], [("Images/dress/y.jpg", "dress")], allow_missing=True)
    (tmp_path / "bad.csv").write_text(",".join(HEADER) + "\nImages/a.jpg,dress,1_2_1\n")
    with pytest.raises(DatasetError, match="bad.csv row 2: 3 columns"):
        merge_results([tmp_path / "bad.csv"])


def test_results_predicted_on_turned_photos_are_refused(tmp_path):
    """predict_keypoints lists the photos it turned upright by EXIF beside keypoints.csv;
    FashionAI scores the stored frame, so such a file is refused, naming one photo."""
    points = np.zeros((24, 2), np.float32)
    rows = [submission_row(f"Images/dress/{n}.jpg", "dress", points) for n in ("a", "b")]
    results = write(tmp_path / "keypoints.csv", rows)
    (tmp_path / TURNED_FILE).write_text("{}")
    assert len(merge_results([results])[0]) == 2
    (tmp_path / TURNED_FILE).write_text('{"b.jpg": 6}')
    with pytest.raises(DatasetError, match=r"keypoints.csv: b.jpg \(and 0 more\) was predicted "
                       r"turned upright by its EXIF orientation 6.*--ignore-exif"):  # fmt: skip
        merge_results([results])
