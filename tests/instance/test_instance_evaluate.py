import contextlib
import io
import json

import numpy as np
import pycocotools.mask as mask_util
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gluonext.common.coco_eval import coco_evaluate, load_coco
from gluonext.formats.imaterialist_coco import ConvertOptions, convert
from gluonext.instance.evaluate import Instances, paste_masks, to_coco_results
from gluonext.sample.writers import write_imaterialist


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval") / "data"
    write_imaterialist(root, 16, seed=11, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=8, progress=False))
    return root / "annotations" / "instances_val.json"


def noisy_detections(gt_path, seed=0):
    """Ground truth moved a little, some dropped, some relabelled, some made up; random scores."""
    rng = np.random.RandomState(seed)
    payload = json.loads(gt_path.read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in payload["images"]}
    results = []
    for ann in payload["annotations"]:
        if rng.rand() < 0.2:
            continue
        h, w = sizes[ann["image_id"]]
        mask = mask_util.decode({"size": [h, w], "counts": ann["segmentation"]["counts"].encode()})
        shift = rng.randint(-2, 3)
        mask = np.roll(mask, shift, axis=1)
        category = ann["category_id"] if rng.rand() > 0.1 else (ann["category_id"] + 1) % 46
        x, y, bw, bh = ann["bbox"]
        rle = mask_util.encode(np.asfortranarray(mask))
        results.append(
            {
                "image_id": ann["image_id"],
                "category_id": category,
                "bbox": [x + shift, y + rng.uniform(-1, 1), bw, bh * rng.uniform(0.9, 1.1)],
                "score": float(rng.rand()),
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode()},
            }
        )
    for image_id, (h, w) in sizes.items():  # false positives
        mask = np.zeros((h, w), np.uint8, order="F")
        mask[5:20, 5:30] = 1
        rle = mask_util.encode(mask)
        results.append(
            {
                "image_id": image_id,
                "category_id": 23,
                "bbox": [5, 5, 25, 15],
                "score": float(rng.rand()) * 0.5,
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode()},
            }
        )
    return results


def direct_cocoeval(gt_path, results, kind):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        evaluator = COCOeval(gt, gt.loadRes([dict(r) for r in results]), kind)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [max(0.0, float(v)) for v in evaluator.stats[:6]]


def test_our_evaluation_equals_cocoeval_run_directly(converted):
    results = noisy_detections(converted)
    ours = coco_evaluate(converted, results)
    for kind in ("bbox", "segm"):
        expected = direct_cocoeval(converted, results, kind)
        assert list(ours[kind].values()) == pytest.approx(expected, abs=1e-12)
    assert 0.2 < ours["segm"]["AP50"] < 1.0  # neither trivial nor perfect
    per_category = [v for v in ours["per_category"].values() if v is not None]
    assert per_category and all(0.0 <= v <= 1.0 for v in per_category)


def test_perfect_detections_score_one_and_none_score_zero(converted):
    payload = json.loads(converted.read_text())
    perfect = [
        {**{k: ann[k] for k in ("image_id", "category_id", "bbox", "segmentation")}, "score": 1.0}
        for ann in payload["annotations"]
    ]
    scores = coco_evaluate(load_coco(payload), perfect)
    assert scores["segm"]["AP"] == pytest.approx(1.0)
    assert scores["bbox"]["AP50"] == pytest.approx(1.0)
    empty = coco_evaluate(converted, [])
    assert empty["segm"]["AP"] == 0.0 and empty["bbox"]["AP"] == 0.0


def test_paste_masks_fills_the_box_and_to_coco_results_round_trips():
    box = np.array([[10.0, 20.0, 40.0, 60.0]])
    full = paste_masks(np.ones((1, 14, 14), np.float32), box, 64, 80)
    assert full.shape == (80, 64, 1) and full.flags.f_contiguous
    ys, xs = np.nonzero(full[:, :, 0])
    assert abs(xs.min() - 10) <= 1 and abs(xs.max() - 39) <= 1
    assert abs(ys.min() - 20) <= 1 and abs(ys.max() - 59) <= 1
    found = Instances(np.array([2]), np.array([0.9]), box, full)
    (record,) = to_coco_results(7, found, [0, 5, 9])
    assert record["image_id"] == 7 and record["category_id"] == 9
    assert record["bbox"] == [10.0, 20.0, 30.0, 40.0]
    decoded = mask_util.decode(
        {**record["segmentation"], "counts": record["segmentation"]["counts"].encode()}
    )
    np.testing.assert_array_equal(decoded, full[:, :, 0])
    # a box partly outside the image is clipped, not wrapped around
    outside = paste_masks(np.ones((1, 14, 14), np.float32), np.array([[-20.0, -5, 30, 30]]), 64, 80)
    assert outside[:, 40:, 0].sum() == 0 and outside[0, 0, 0] == 1
