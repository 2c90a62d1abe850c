"""Our Fashionpedia APs against the fashionpedia package's own evaluator (FPEval), on the
same predictions, as COCO AP is checked against pycocotools."""

import contextlib
import copy
import io
import json
import warnings

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from gluonext.instance.attribute_eval import evaluate_attributes, found_garment_f1
from gluonext.instance.attributes import f1


@pytest.fixture(scope="module")
def ground_truth(tmp_path_factory):
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path_factory.mktemp("attr_eval") / "data"
    write_imaterialist(root, 30, seed=5, size=(96, 128), progress=False)
    convert(ConvertOptions(data_root=root, val_num=20, categories="main", progress=False))
    return json.loads((root / "annotations" / "instances_val.json").read_text())


def predictions(gt: dict, seed: int) -> list[dict]:
    """Noisy copies of the ground truth: masks grown, shrunk or shifted, scores at random
    (ties included), attributes with one flipped, some classes wrong, some objects missed."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = copy.deepcopy(gt)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    rng = np.random.RandomState(seed)
    attribute_ids = [a["id"] for a in gt["attributes"]]
    results = []
    for ann in gt["annotations"]:
        mask = coco.annToMask(ann)
        for _ in range(rng.randint(0, 3)):
            kernel = np.ones((rng.randint(1, 4),) * 2, np.uint8)
            grown = cv2.dilate(mask, kernel) if rng.rand() < 0.5 else cv2.erode(mask, kernel)
            if rng.rand() < 0.2:
                grown = np.roll(grown, rng.randint(-8, 8), axis=1)
            rle = mask_util.encode(np.asfortranarray(grown))
            rle["counts"] = rle["counts"].decode()
            attributes = set(ann["attribute_ids"])
            if rng.rand() < 0.4:
                attributes ^= {int(rng.choice(attribute_ids))}
            category = ann["category_id"] if rng.rand() < 0.9 else int(rng.randint(0, 13))
            results.append({"image_id": ann["image_id"], "category_id": category,
                            "segmentation": rle, "score": float(np.round(rng.rand(), 2)),
                            "attribute_ids": sorted(attributes),
                            "bbox": mask_util.toBbox(rle).tolist()})  # fmt: skip
    return results


def fashionpedia_scores(gt: dict, results: list[dict]) -> dict:
    from fashionpedia.fp import Fashionpedia
    from fashionpedia.fp_eval import FPEval

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its np.float
        truth = Fashionpedia()
        truth.dataset = copy.deepcopy(gt)
        truth.createIndex()
        found = truth.loadRes(copy.deepcopy(results))
        evaluator = FPEval(truth, found, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        # its summary by supercategory needs all 46 categories; the overall figures do not
        return {"AP_IoU_F1": evaluator._summarize("ap"),
                "AP_IoU50_F150": evaluator._summarize("ap", iouThr=0.5, f1Thr=0.5),
                "AP_IoU": evaluator._summarize("ap", f1=False)}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
def test_aps_equal_the_fashionpedia_evaluators(ground_truth, seed):
    results = predictions(ground_truth, seed)
    ours = evaluate_attributes(ground_truth["images"], ground_truth["annotations"], results,
                               [c["id"] for c in ground_truth["categories"]],
                               len(ground_truth["attributes"]))  # fmt: skip
    theirs = fashionpedia_scores(ground_truth, results)
    assert 0.1 < ours["AP_IoU_F1"] < ours["AP_IoU"] < 1.0  # the F1 condition costs something
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_perfect_predictions_score_one_and_wrong_attributes_lower(ground_truth):
    perfect = []
    for k, ann in enumerate(ground_truth["annotations"]):
        perfect.append({**ann, "score": 1.0 - k * 1e-4})
    categories = [c["id"] for c in ground_truth["categories"]]
    args = (ground_truth["images"], ground_truth["annotations"])
    assert evaluate_attributes(*args, perfect, categories, 92)["AP_IoU_F1"] == pytest.approx(1.0)
    wrong = [{**p, "attribute_ids": [a for a in range(5) if a not in p["attribute_ids"]]}
             for p in perfect]  # fmt: skip
    scores = evaluate_attributes(*args, wrong, categories, 92)
    assert scores["AP_IoU"] == pytest.approx(1.0) and scores["AP_IoU_F1"] < 0.9


def test_found_garment_f1_pairs_each_garment_with_its_best_detection(ground_truth):
    anns = [a for a in ground_truth["annotations"] if a["category_id"] <= 12][:6]
    results = [{**a, "score": 0.9, "attribute_ids": []} for a in anns[:4]]
    results[0] = {**results[0], "attribute_ids": anns[0]["attribute_ids"]}
    results.append({**anns[0], "score": 0.5, "attribute_ids": [91]})  # worse scored: not used
    sets = {a["category_id"]: [] for a in anns}
    found = found_garment_f1(ground_truth["images"], anns, results, sets, 92)
    assert found["found"] == 4 and found["garments"] == 6
    expected = np.mean([1.0] + [f1(a["attribute_ids"], [], 92) for a in anns[1:4]])
    assert found["attr_F1"] == pytest.approx(expected)
    blind = [f1(a["attribute_ids"], [], 92) for a in anns[:4]]
    assert found["baseline_attr_F1"] == pytest.approx(np.mean(blind))
    gains = np.array([1.0 - blind[0], 0, 0, 0])  # only the first detection differs
    assert gains[0] > 0 and found["attr_F1_gain_se"] == pytest.approx(gains.std(ddof=1) / 2)
