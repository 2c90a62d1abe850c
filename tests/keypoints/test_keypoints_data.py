import csv
import shutil

import numpy as np
import pytest

from gluonext.errors import DatasetError
from gluonext.formats.fashionai import (
    FASHIONAI_KEYPOINTS,
    flip_pairs,
    joint_names,
    read_keypoint_csv,
)
from gluonext.keypoints.data import FashionAIKeypoints
from gluonext.sample.writers import write_fashionai


@pytest.fixture(scope="module")
def fashionai_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashionai")
    write_fashionai(root, 20, seed=4, size=(96, 128), progress=False)
    return root


@pytest.fixture
def fashionai(fashionai_sample, tmp_path):
    shutil.copytree(fashionai_sample, tmp_path / "fai")
    return tmp_path / "fai"


def rewrite(root, row_index, column, value):
    """Set one cell of the annotation CSV (row 0 = first data row)."""
    path = root / "Annotations" / "train.csv"
    rows = list(csv.reader(path.open()))
    before = list(rows[row_index + 1])
    rows[row_index + 1][column] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return before


def test_flip_pairs_come_from_the_names():
    names = joint_names("all")
    pairs = {(names[a], names[b]) for a, b in flip_pairs(names)}
    assert ("cuff_left_in", "cuff_right_in") in pairs
    assert ("bottom_left_out", "bottom_right_out") in pairs
    assert ("armpit_left", "armpit_right") in pairs
    assert len(pairs) == 11  # every keypoint but center_front and crotch has a partner
    skirt = joint_names("skirt")
    assert [(skirt[a], skirt[b]) for a, b in flip_pairs(skirt)] == [
        ("waistband_left", "waistband_right"), ("hemline_left", "hemline_right")
    ]  # fmt: skip


def test_category_and_all_datasets_weight_what_the_category_has(fashionai):
    rows, skipped = read_keypoint_csv(fashionai / "Annotations" / "train.csv", fashionai)
    assert not skipped and len(rows) == 20
    everything = FashionAIKeypoints(fashionai, rows, "all")
    assert everything.num_joints == 24 and len(everything) == 20
    for index in range(len(everything)):
        row = everything.rows[index]
        _, weight = everything.joints(index)
        # weight 1 exactly where the CSV gives a position (categories never give others)
        np.testing.assert_array_equal(weight, (row.points[:, 2] >= 0).astype(np.float32))
    skirts = FashionAIKeypoints(fashionai, rows, "skirt")
    assert skirts.num_joints == 4 and all(r.category == "skirt" for r in skirts.rows)
    image, joints, weight = skirts.load(0)
    assert image.shape == (128, 96, 3) and joints.shape == (4, 3)
    column = FASHIONAI_KEYPOINTS.index("hemline_left")
    np.testing.assert_array_equal(joints[2], skirts.rows[0].points[column])


@pytest.mark.parametrize("cell, message", [
    ("12_13", "not x_y_v"),
    ("a_b_1", "not x_y_v with integers"),
    ("12_13_2", "visibility 2"),
    ("500_13_1", "outside the 96x128 image"),
])  # fmt: skip
def test_bad_cells_name_the_row_or_are_skipped_with_a_count(fashionai, cell, message):
    rows = list(csv.reader((fashionai / "Annotations" / "train.csv").open()))
    category = rows[3][1]
    column = 2 + FASHIONAI_KEYPOINTS.index(
        {"blouse": "armpit_left", "outwear": "armpit_left", "dress": "armpit_left",
         "skirt": "waistband_left", "trousers": "waistband_left"}[category]
    )  # fmt: skip
    rewrite(fashionai, 2, column, cell)
    csv_path = fashionai / "Annotations" / "train.csv"
    with pytest.raises(DatasetError, match=rf"row 4: .*{message}"):
        read_keypoint_csv(csv_path, fashionai)
    rows, skipped = read_keypoint_csv(csv_path, fashionai, skip_bad=True)
    assert len(rows) == 19 and sum(skipped.values()) == 1


def test_unknown_category_missing_image_and_foreign_keypoint(fashionai):
    csv_path = fashionai / "Annotations" / "train.csv"
    row = rewrite(fashionai, 0, 1, "hat")
    with pytest.raises(DatasetError, match="row 2: .*unknown category 'hat'"):
        read_keypoint_csv(csv_path, fashionai)
    rewrite(fashionai, 0, 1, "blouse" if row[1] != "blouse" else "skirt")
    with pytest.raises(DatasetError, match="row 2: .*is given but .* has no such keypoint"):
        read_keypoint_csv(csv_path, fashionai)
    rewrite(fashionai, 0, 1, row[1])
    (fashionai / row[0]).unlink()
    with pytest.raises(DatasetError, match="row 2: .*image not found"):
        read_keypoint_csv(csv_path, fashionai)
    rows, skipped = read_keypoint_csv(csv_path, fashionai, skip_bad=True)
    assert skipped == {"not found": 1} and len(rows) == 19
    (fashionai / "Annotations" / "train.csv").write_text("image_id,category\n")
    with pytest.raises(DatasetError, match="header"):
        read_keypoint_csv(csv_path, fashionai)
