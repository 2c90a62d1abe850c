import numpy as np
import pytest
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric

from gluonext.common.coco_eval import coco_evaluate, load_coco
from gluonext.detection.metrics import VOC07MAP, voc_to_coco

CLASSES = ["Tops", "Skirts", "Dresses", "Shorts"]


def random_image(rng, n_gt=5):
    """Ground truth with a few difficult boxes; detections: noisy copies, misses, extras."""
    x1, y1 = rng.uniform(0, 200, n_gt), rng.uniform(0, 200, n_gt)
    gt = np.stack([x1, y1, x1 + rng.uniform(10, 80, n_gt), y1 + rng.uniform(10, 80, n_gt)], 1)
    gt_labels = rng.randint(0, 3, n_gt)  # class 3 never in the ground truth
    difficult = (rng.rand(n_gt) < 0.15).astype(int)
    keep = rng.rand(n_gt) > 0.2
    boxes = gt[keep] + rng.normal(0, 4, (keep.sum(), 4))
    labels = np.where(rng.rand(keep.sum()) < 0.1, rng.randint(0, 4, keep.sum()), gt_labels[keep])
    extra = rng.randint(1, 4)
    ex = rng.uniform(0, 250, (extra, 2))
    boxes = np.concatenate([boxes, np.concatenate([ex, ex + 30], 1), gt[:1] + 1])  # a duplicate
    labels = np.concatenate([labels, rng.randint(0, 4, extra), gt_labels[:1]])
    scores = rng.rand(len(boxes))
    return boxes, labels, scores, gt, gt_labels, difficult


def test_voc07_map_equals_gluoncv_metric():
    rng = np.random.RandomState(0)
    ours, theirs = VOC07MAP(CLASSES), VOC07MApMetric(iou_thresh=0.5, class_names=CLASSES)
    for _ in range(30):
        boxes, labels, scores, gt, gt_labels, difficult = random_image(rng)
        ours.update(boxes, labels, scores, gt, gt_labels, difficult)
        theirs.update(
            boxes[None], labels[None, :, None], scores[None, :, None],
            gt[None], gt_labels[None, :, None], difficult[None, :, None],
        )  # fmt: skip
    per_class, mean = ours.get()
    names, values = theirs.get()
    expected = dict(zip(names, values, strict=True))
    for name in CLASSES[:3]:
        assert per_class[name] == pytest.approx(expected[name], abs=1e-12)
    assert np.isnan(per_class["Shorts"])  # no ground truth: left out of the mean
    assert mean == pytest.approx(expected["mAP"], abs=1e-12)
    assert 0.2 < mean < 0.95


def test_perfect_detections_score_one_with_coco_too():
    rng = np.random.RandomState(1)
    metric, labels, sizes, results = VOC07MAP(CLASSES), [], [], []
    for image_id in range(1, 6):
        _, _, _, gt, gt_labels, _ = random_image(rng)
        metric.update(gt, gt_labels, np.ones(len(gt)), gt, gt_labels)
        labels.append(np.concatenate([gt, gt_labels[:, None], np.zeros((len(gt), 1))], 1))
        sizes.append((300, 300))
        for box, cls in zip(gt, gt_labels, strict=True):
            w, h = box[2] - box[0] + 1, box[3] - box[1] + 1
            results.append(
                {"image_id": image_id, "category_id": int(cls), "bbox": [*box[:2], w, h],
                 "score": 1.0}
            )  # fmt: skip
    assert metric.get()[1] == pytest.approx(1.0)
    scores = coco_evaluate(load_coco(voc_to_coco(labels, sizes, CLASSES)), results, kinds=("bbox",))
    assert scores["bbox"]["AP"] == pytest.approx(1.0)
    assert "segm" not in scores
