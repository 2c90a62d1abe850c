import csv

import numpy as np
import pycocotools.mask as mask_util
import pytest

from gluonext.formats.rle import parse_kaggle
from gluonext.instance.submission import (
    HEADER,
    HEADER_2020,
    SubmissionError,
    submission_rows,
    write_submission,
)


def record(name, category, score, mask):
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {
        "file_name": name,
        "image_id": 1,
        "category_id": category,
        "score": score,
        "segmentation": {"size": list(mask.shape), "counts": rle["counts"].decode()},
    }


def box(h, w, y0, y1, x0, x1):
    mask = np.zeros((h, w), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def test_masks_are_made_disjoint_best_first_and_read_back_valid(tmp_path):
    h, w = 40, 30
    records = [
        record("a.jpg", 10, 0.6, box(h, w, 5, 35, 5, 25)),  # dress, under the top
        record("a.jpg", 1, 0.9, box(h, w, 5, 18, 5, 25)),  # top wins its pixels
        record("a.jpg", 31, 0.8, box(h, w, 8, 12, 8, 12)),  # inside the top: nothing left
        record("a.jpg", 23, 0.2, box(h, w, 36, 40, 0, 30)),  # below the threshold
        record("b.jpg", 6, 0.7, box(20, 20, 10, 20, 5, 15)),
    ]
    rows, report = submission_rows(records, threshold=0.5)
    assert report.rows == 3 and report.images == 2
    assert report.swallowed == 1 and report.below_threshold == 1
    path = tmp_path / "submission.csv"
    write_submission(path, rows)
    with open(path, newline="") as handle:
        table = list(csv.reader(handle))
    assert tuple(table[0]) == HEADER
    sizes = {"a.jpg": (h, w), "b.jpg": (20, 20)}
    decoded: dict = {}
    for image_id, encoded, class_id in table[1:]:
        pairs = parse_kaggle(encoded, *sizes[image_id])  # the project's RLE validator
        mask = np.zeros(sizes[image_id][0] * sizes[image_id][1], np.uint8)
        for start, length in pairs.reshape(-1, 2):
            mask[start - 1 : start - 1 + length] = 1
        decoded.setdefault(image_id, []).append(
            (int(class_id), mask.reshape(sizes[image_id], order="F"))
        )
    a = dict(decoded["a.jpg"])
    assert set(a) == {1, 10}
    assert not (a[1] & a[10]).any()  # no overlap
    np.testing.assert_array_equal(a[1], box(h, w, 5, 18, 5, 25))
    np.testing.assert_array_equal(a[10], box(h, w, 18, 35, 5, 25))
    np.testing.assert_array_equal(dict(decoded["b.jpg"])[6], box(20, 20, 10, 20, 5, 15))


def test_predictions_without_file_names_are_refused():
    bad = [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {}}]
    with pytest.raises(SubmissionError, match="no file_name"):
        submission_rows(bad)
    broken = [{"file_name": "x.jpg", "category_id": 1, "score": 0.9, "segmentation": [[1, 2]]}]
    with pytest.raises(SubmissionError, match="x.jpg prediction 0: no RLE"):
        submission_rows(broken)


def test_predictions_without_a_score_or_category_are_named():
    record = {"file_name": "y.jpg", "category_id": 3, "segmentation": {}}
    with pytest.raises(SubmissionError, match="y.jpg prediction 0: no score"):
        submission_rows([record])


def test_masks_predicted_on_a_turned_photo_are_refused():
    """predict_instances marks the predictions of a photo it turned upright by EXIF; the
    competition's masks are in the stored frame, so they are refused with the fix named."""
    turned = record("b.jpg", 1, 0.9, box(20, 10, 0, 5, 0, 5))
    assert len(submission_rows([turned])[0]) == 1
    turned["exif_orientation"] = 8
    with pytest.raises(SubmissionError, match=r"b.jpg: predicted turned upright by its EXIF "
                       r"orientation 8.*--ignore-exif"):  # fmt: skip
        submission_rows([record("a.jpg", 1, 0.9, box(20, 10, 0, 5, 0, 5)), turned])


def test_2020_rows_name_images_without_suffix_and_list_attributes_apart(tmp_path):
    shirt = {**record("0a1b.jpg", 1, 0.9, box(20, 20, 0, 10, 0, 10)), "attribute_ids": [136, 115]}
    shoe = record("0a1b.jpg", 23, 0.8, box(20, 20, 15, 20, 15, 20))  # no attribute head
    rows, _ = submission_rows([shirt, shoe], edition=2020)
    assert [(r[0], r[2], r[3]) for r in rows] == [("0a1b", "1", "136,115"), ("0a1b", "23", "")]
    assert submission_rows([shirt], edition=2019)[0][0][2] == "1_136_115"
    path = tmp_path / "submission.csv"
    write_submission(path, rows, 2020)
    with open(path, newline="") as handle:
        table = list(csv.reader(handle))
    assert tuple(table[0]) == HEADER_2020 == ("ImageId", "EncodedPixels", "ClassId",
                                              "AttributesIds")
    assert table[1][0] == "0a1b" and table[2][3] == ""
    with pytest.raises(SubmissionError, match="edition 2021"):
        submission_rows([shirt], edition=2021)
