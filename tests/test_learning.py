"""Every recipe beats guessing: ``bench/learning.py`` at the suite's budget, on pictures no
model saw.

Each learning test runs the harness's own code (generated data with seed 0, held-out images
disjoint from training, the training script's image-blind baseline from the training labels,
the recipe from a backbone pretrained once per test run) and asserts a margin over that
baseline on the held-out images, at the last epoch. The issue's bars need the full budget
(``bench/learning.py --budget full``, about a quarter of an hour per task); where one does not
fit in the suite, the margin asserted here is the largest that fits, and ``SUITE_MARGINS`` says
so beside the bar. The held-out images of every task, both budgets and two seeds are checked
against everything the models saw: the backbones' pretraining pictures and the task's own
training images, by content hash and by the generator key of each picture.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import exclusive
from helpers.script_loader import load_script

from gluonext.sample.writers import read_scenes

learning = load_script("bench/learning")

# task -> (kind, amount) asserted here; the bar is learning.TASKS[task]["bar"]
SUITE_MARGINS = {
    "keypoints": ("times", 0.5),  # the bar
    "instances": ("plus", 0.15),  # the bar
    "segmentation": ("plus", 0.15),  # bar + 0.25: 10 epochs of 560 images (bench, full)
    "detection": ("plus", 0.15),  # bar + 0.25: 12 epochs of 1,840 images (bench, full)
}


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """Generated data and pretrained backbones, shared by the workers of one test run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "learning_cache"
    root.mkdir(exist_ok=True)
    return root


def pictures(seed, cache):
    """The backbones' pretraining pictures for ``seed`` (one worker makes them)."""
    with exclusive(cache / f"pictures_{seed}.lock"):
        return learning.pretraining_data(seed, cache / "backbones")


def task_data(task, budget, seed, cache):
    """The task's generated data for ``budget`` and ``seed`` (one worker makes it)."""
    with exclusive(cache / f"{learning.SHARES_DATA.get(task, task)}_data.lock"):
        return learning.make_data(task, learning.TASKS[task][budget], seed, cache)


def learn(task, cache, tmp_path):
    # one worker at a time makes the pictures, the data and each backbone (the other then
    # finds them); the task's own data first, while the other worker makes the pictures
    task_data(task, "suite", 0, cache)
    pictures(0, cache)
    with exclusive(cache / f"{learning.TASKS[task]['network']}.lock"):
        learning.backbone(task, 0, cache)
    result = learning.learn(task, 0, tmp_path / "out", True, "suite", cache)
    assert json.loads((tmp_path / "out" / "result.json").read_text()) == result
    # kept beside the cache whether the test passes or not (pytest keeps only failed tests')
    (cache / f"{task}_result.json").write_text(json.dumps(result, indent=2))
    assert (tmp_path / "out" / "learning.png").stat().st_size > 0
    return result


def check_margin(result):
    kind, amount = SUITE_MARGINS[result["task"]]
    baseline, trained = result["baseline"], result["trained"]
    if kind == "plus":
        assert trained >= baseline + amount, result
    else:
        assert trained <= baseline * amount, result


def test_parsing_beats_the_image_blind_baseline(cache, tmp_path):
    check_margin(learn("segmentation", cache, tmp_path))


def test_landmarks_beat_the_image_blind_baseline(cache, tmp_path):
    check_margin(learn("keypoints", cache, tmp_path))


def test_instances_beat_the_image_blind_baseline_then_predict_and_submit(cache, tmp_path):
    """... and the trained Mask R-CNN goes through the prediction and Kaggle submission tools
    on the held-out images."""
    import imaterialist_submission
    import predict_instances

    from gluonext.formats.rle import parse_kaggle

    check_margin(learn("instances", cache, tmp_path))
    data = task_data("instances", "suite", 0, cache)
    held_out = json.loads((data / "annotations" / "instances_val.json").read_text())["images"]
    out = tmp_path / "predictions"
    argv = ["--checkpoint", str(tmp_path / "out" / "run" / "checkpoint_last.ckpt"), "--input",
            str(data / "train"), "--output", str(out), "--annotations",
            str(data / "annotations" / "instances_val.json"), "--no-progress"]  # fmt: skip
    assert predict_instances.main(predict_instances.parse_args(argv)) == 0
    predicted = json.loads((out / "predictions.json").read_text())
    assert {Path(r["file_name"]).name for r in predicted} == {i["file_name"] for i in held_out}
    assert len(list(out.glob("*_overlay.jpg"))) == len(held_out)
    skipped = json.loads((out / "skipped.json").read_text())  # the training images
    assert len(skipped) == len(list((data / "train").glob("*.jpg"))) - len(held_out)
    assert all("not in" in s["reason"] for s in skipped)
    csv_path = tmp_path / "submission.csv"
    argv = ["--predictions", str(out / "predictions.json"), "--output", str(csv_path),
            "--threshold", "0.3", "--images", str(data / "train")]  # fmt: skip
    assert imaterialist_submission.main(imaterialist_submission.parse_args(argv)) == 0
    sizes = {image["file_name"]: (image["height"], image["width"]) for image in held_out}
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "ImageId,EncodedPixels,ClassId" and len(lines) > len(held_out)
    covered: dict = {}
    for line in lines[1:]:
        image_id, encoded, class_id = line.split(",")
        assert 0 <= int(class_id) <= 12
        height, width = sizes[image_id]
        mask = np.zeros(height * width, bool)
        for start, length in parse_kaggle(encoded, height, width).reshape(-1, 2):
            mask[start - 1 : start - 1 + length] = True
        seen = covered.setdefault(image_id, np.zeros(height * width, bool))
        assert not (seen & mask).any(), f"{image_id}: overlapping masks"
        seen |= mask
    check_tuning(tmp_path / "out" / "run" / "checkpoint_last.ckpt", out / "predictions.json",
                 tmp_path)  # fmt: skip


def check_tuning(ckpt, predictions, tmp_path):
    """Thresholds tuned on the held-out split beat the defaults there, and the predictor, the
    export and the submission tool take them up."""
    import imaterialist_submission
    import tune_thresholds

    from gluonext import load_predictor
    from gluonext.deploy.export import export_model
    from gluonext.instance.postprocess import PostProcess
    from gluonext.instance.submission import submission_rows

    argv = ["--checkpoint", str(ckpt), "--rounds", "1", "--no-progress"]
    assert tune_thresholds.main(tune_thresholds.parse_args(argv)) == 0
    found = json.loads((ckpt.parent / "thresholds.json").read_text())
    assert found["validation_score"]["tuned"] > found["validation_score"]["default"], found
    assert (ckpt.parent / "tune_thresholds.png").stat().st_size > 0
    tuned = PostProcess(**found["settings"])
    assert load_predictor(ckpt).settings == tuned
    export_model(ckpt, tmp_path / "export", formats=("symbol",))
    spec = json.loads((tmp_path / "export" / "model.json").read_text())
    assert spec["postprocess"] == found["settings"]
    assert load_predictor(tmp_path / "export").settings == tuned
    csv_path = tmp_path / "tuned.csv"
    argv = ["--predictions", str(predictions), "--output", str(csv_path), "--thresholds",
            str(ckpt.parent / "thresholds.json")]  # fmt: skip
    assert imaterialist_submission.main(imaterialist_submission.parse_args(argv)) == 0
    rows, _ = submission_rows(json.loads(predictions.read_text()), tuned.score, tuned.min_area)
    assert len(csv_path.read_text().splitlines()) == len(rows) + 1


def test_boxes_beat_the_image_blind_baseline_and_export_unchanged(cache, tmp_path):
    """... and ONNX Runtime gives the trained SSD's boxes on held-out photos."""
    from gluonext import load_predictor
    from gluonext.common.images import read_rgb
    from gluonext.deploy.export import export_model

    check_margin(learn("detection", cache, tmp_path))
    data = task_data("detection", "suite", 0, cache)
    held_out = [str(data / f"{stem}.jpg") for stem in (data / "test.txt").read_text().split()[:8]]
    checkpoint = tmp_path / "out" / "run" / "checkpoint_best.ckpt"
    report = export_model(checkpoint, tmp_path / "export", images=held_out)
    assert report.written == ["symbol", "onnx"], report.refused
    for form in ("symbol", "onnx"):
        assert report.parity[form]["within_tolerance"] and report.parity[form]["same_results"]
    predictor = load_predictor(tmp_path / "export", backend="onnx")
    confident = sum(int((predictor(read_rgb(p)).scores >= 0.3).sum()) for p in held_out)
    assert confident >= 4  # the comparison above covered real boxes, not an empty list


def split_images(task, budget, seed, data):
    """(held-out, training) image paths of the task's data, as its script splits them."""
    kind = learning.TASKS[task]["data"][0]
    if kind == "imaterialist":
        return tuple(
            [data / "train" / image["file_name"] for image in json.loads(
                (data / "annotations" / f"instances_{split}.json").read_text())["images"]]
            for split in ("val", "train")
        )  # fmt: skip
    if kind == "voc":
        return tuple(
            [data / f"{stem}.jpg" for stem in (data / f"{split}.txt").read_text().split()]
            for split in ("test", "train")
        )
    import train_keypoints as tk

    flags = learning.held_out_flags(task, learning.TASKS[task][budget])
    args = tk.parse_args(["--data-root", str(data), "--category", "all", "--seed", str(seed),
                          *flags])  # fmt: skip
    train, val = tk.get_datasets(args)
    return tuple([data / row.image_id for row in split.rows] for split in (val, train))


def digests(paths):
    return {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in paths}


@pytest.mark.parametrize("seed", [0, 1])
def test_held_out_images_are_not_among_anything_a_model_saw(seed, cache):
    pretraining = pictures(seed, cache)
    seen = digests(sorted((pretraining / "train").glob("*.jpg")))
    seen_keys = set(read_scenes(pretraining).values())
    assert len(seen) == len(seen_keys) == learning.PICTURES
    for task in sorted(learning.TASKS):
        for budget in ("suite", "full"):
            data = task_data(task, budget, seed, cache)
            held_out, training = split_images(task, budget, seed, data)
            assert len(held_out) == learning.TASKS[task][budget]["held_out"], (task, budget)
            held = digests(held_out)
            assert len(held) == len(held_out), f"{task}: a held-out picture is there twice"
            where = f"{task}, {budget} budget, seed {seed}"
            shared = sorted(str(held[h]) for h in held.keys() & seen.keys())
            assert not shared, f"{where}: {len(shared)} held-out image(s) were pretrained on"
            shared = sorted(str(held[h]) for h in held.keys() & digests(training).keys())
            assert not shared, f"{where}: {len(shared)} held-out image(s) are also trained on"
            keys = read_scenes(data)
            held_keys = {keys[str(path.relative_to(data))] for path in held_out}
            assert len(held_keys) == len(held_out)
            assert not held_keys & seen_keys, f"{where}: held-out scenes were pretrained on"
