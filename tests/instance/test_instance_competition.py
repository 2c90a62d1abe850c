"""The competition's score on cases computed by hand (4 x 5 images, column-major RLE)."""

import numpy as np
import pytest

from gluonext.errors import DatasetError
from gluonext.instance.competition import THRESHOLDS, competition_score, pair_score


def flat(*runs, size=20):
    """A flat mask from (start, length) runs, 1-based as Kaggle's RLE."""
    mask = np.zeros(size, bool)
    for start, length in runs:
        mask[start - 1 : start - 1 + length] = True
    return mask


def test_pair_scores_by_hand():
    a = flat((1, 10))
    assert list(THRESHOLDS) == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert pair_score([a], [a]) == 1.0
    # IoU 6 / 10 = 0.6: a match above 0.50 and 0.55 only (strictly above), 2 of 10 thresholds
    assert pair_score([a], [flat((1, 6))]) == pytest.approx(0.2)
    # a perfect match and a stray prediction: TP 1, FP 1, FN 0 at every threshold
    assert pair_score([a], [a, flat((15, 3))]) == pytest.approx(0.5)
    # two true masks, one found: TP 1, FN 1
    assert pair_score([a, flat((15, 3))], [a]) == pytest.approx(0.5)
    assert pair_score([a], []) == 0.0 and pair_score([], [a]) == 0.0


def test_a_submission_scores_per_image_and_class(tmp_path):
    truth = tmp_path / "train.csv"
    truth.write_text(
        "ImageId,EncodedPixels,Height,Width,ClassId\n"
        "a.jpg,1 10,4,5,6_28_77\n"  # image a, class 6
        "a.jpg,15 3,4,5,10\n"  # image a, class 10
        "b.jpg,1 20,4,5,6\n"  # image b, class 6
    )
    submission = tmp_path / "submission.csv"
    submission.write_text(
        "ImageId,EncodedPixels,ClassId\n"
        "a.jpg,1 10,6\n"  # perfect: 1.0
        "a.jpg,1 6,10\n"  # class 10 missed and a false positive: 0.0
        "b.jpg,1 12,6\n"  # IoU 12 / 20 = 0.6: 0.2
        "b.jpg,13 2,23\n"  # a class only predicted: 0.0
        "c.jpg,1 3,6\n"  # an image the truth does not have: 0.0
    )
    result = competition_score(truth, submission)
    assert result.pairs == 5
    assert result.score == pytest.approx((1.0 + 0.0 + 0.2 + 0.0 + 0.0) / 5)
    assert result.per_class == pytest.approx({6: (1.0 + 0.2 + 0.0) / 3, 10: 0.0, 23: 0.0})
    submission.write_text("ImageId,EncodedPixels,ClassId\na.jpg,0 10,6\n")
    with pytest.raises(DatasetError, match="submission.csv line 2: RLE start 0"):
        competition_score(truth, submission)
    submission.write_text("ImageId,Pixels,ClassId\n")
    with pytest.raises(DatasetError, match="no column EncodedPixels"):
        competition_score(truth, submission)


def test_the_submission_tool_prints_the_score_against_ground_truth(tmp_path, caplog):
    """predictions.json of two masks, one right: the tool's submission scores (1 + 0) / 2."""
    import json

    import imaterialist_submission
    import pycocotools.mask as mask_util

    def record(mask, category, score):
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        return {"file_name": "a.jpg", "image_id": 1, "category_id": category, "score": score,
                "segmentation": {"size": [4, 5], "counts": rle["counts"].decode()}}  # fmt: skip

    shirt = np.zeros((4, 5), bool)
    shirt[:, :2] = True  # column-major pixels 1-8
    shoe = np.zeros((4, 5), bool)
    shoe[:, 4] = True  # pixels 17-20
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps([record(shirt, 1, 0.9), record(shoe, 5, 0.8)]))
    truth = tmp_path / "truth.csv"
    truth.write_text("ImageId,EncodedPixels,Height,Width,ClassId\na.jpg,1 8,4,5,1\n"
                     "a.jpg,9 4,4,5,5\n")  # fmt: skip
    argv = ["--predictions", str(predictions), "--output", str(tmp_path / "submission.csv"),
            "--ground-truth", str(truth)]  # fmt: skip
    assert imaterialist_submission.main(imaterialist_submission.parse_args(argv)) == 0
    assert "competition score 0.5000 over 2 (image, class) pairs" in caplog.text

    # 2020 (FGVC7): ImageIds without the suffix, ClassId the category, AttributesIds apart
    truth.write_text("ImageId,EncodedPixels,Height,Width,ClassId,AttributesIds\n"
                     "a,1 8,4,5,1,115\na,9 4,4,5,5,\n")  # fmt: skip
    caplog.clear()
    assert imaterialist_submission.main(imaterialist_submission.parse_args(
        [*argv, "--edition", "2020"])) == 0  # fmt: skip
    assert "competition score 0.5000 over 2 (image, class) pairs" in caplog.text
    with open(tmp_path / "submission.csv") as handle:
        assert handle.readline().strip() == "ImageId,EncodedPixels,ClassId,AttributesIds"
    caplog.clear()  # a 2019 submission against 2020's ImageIds: said, not scored 0
    assert imaterialist_submission.main(imaterialist_submission.parse_args(argv)) == 2
    assert "none of its ImageIds is in" in caplog.text and "--edition 2020" in caplog.text


def test_evaluation_results_score_as_their_submission_would(tmp_path):
    """score_results (train_mask_rcnn.py --eval): the ground truth itself scores 1; dropping
    one image's shirt leaves that pair at 0 and the others at 1; low scores are dropped."""
    import json

    import pycocotools.mask as mask_util
    from PIL import Image

    from gluonext.instance.competition import score_results
    from gluonext.instance.data import InstanceDataset

    (tmp_path / "train").mkdir()
    images, annotations = [], []
    for image_id in (1, 2):
        Image.new("RGB", (20, 16)).save(tmp_path / "train" / f"{image_id}.jpg")
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "height": 16, "width": 20})
        for k, (category, x) in enumerate(((1, 0), (5, 10))):
            mask = np.zeros((16, 20), np.uint8)
            mask[2:12, x : x + 8] = 1
            rle = mask_util.encode(np.asfortranarray(mask))
            annotations.append({"id": 10 * image_id + k, "image_id": image_id,
                                "category_id": category, "iscrowd": 0, "area": 80.0,
                                "bbox": [x, 2, 8, 10],
                                "segmentation": {"size": [16, 20],
                                                 "counts": rle["counts"].decode()}})  # fmt: skip
    payload = {"images": images, "annotations": annotations,
               "categories": [{"id": 1, "name": "shirt"}, {"id": 5, "name": "shoe"}]}  # fmt: skip
    (tmp_path / "val.json").write_text(json.dumps(payload))
    dataset = InstanceDataset(tmp_path, "val", annotation_file=str(tmp_path / "val.json"))
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 0.9,
                "segmentation": a["segmentation"]} for a in annotations]  # fmt: skip
    assert score_results(dataset, perfect).score == 1.0
    assert score_results(dataset, perfect[1:]).score == pytest.approx(3 / 4)
    faint = [{**r, "score": 0.2} if r["image_id"] == 2 else r for r in perfect]
    assert score_results(dataset, faint).score == pytest.approx(2 / 4)
