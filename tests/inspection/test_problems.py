"""The inspector's problem list finds each planted problem, and nothing on clean data."""

import shutil

from PIL import Image

from gluonext.inspection.problems import content_hash, find_problems
from gluonext.inspection.sources import Item


def picture(path, size=(40, 30), colour=(10, 20, 30)):
    Image.new("RGB", size, colour).save(path)
    return path


def test_each_planted_problem_is_found_once(tmp_path):
    a = picture(tmp_path / "a.png")
    b = picture(tmp_path / "b.png", colour=(200, 0, 0))
    copy = tmp_path / "copy_of_a.png"
    shutil.copy(a, copy)
    wrong = picture(tmp_path / "wrong.png", size=(41, 30))
    splits = {
        "train": [Item(a, (30, 40), [("shirt", 400.0), ("sock", 12.0)]),
                  Item(b, (30, 40), [("shirt", 300.0), ("belt", 0.0)])],
        "val": [Item(copy, (30, 40), [("shirt", 500.0)]), Item(wrong, (30, 40), []),
                Item(tmp_path / "gone.png", (30, 40), [("shirt", 100.0)])],
    }  # fmt: skip
    found = sorted((p["kind"], p.get("file", p.get("class"))) for p in find_problems(splits))
    assert found == sorted([
        ("same image in two splits", str(copy)),
        ("image", str(wrong)),
        ("image without labels", str(wrong)),
        ("image", str(tmp_path / "gone.png")),
        ("tiny object", str(a)),
        ("empty object", str(b)),
        ("class in one split only", "sock"),
        ("class in one split only", "belt"),
    ])  # fmt: skip
    details = {(p["kind"], p.get("file")): p["detail"] for p in find_problems(splits)}
    assert details["same image in two splits", str(copy)] == f"identical to {a} (train)"
    assert details["image", str(wrong)] == "image is 30x41 but its annotation says 30x40"
    assert details["image", str(tmp_path / "gone.png")] == "image file not found"
    assert details["tiny object", str(a)] == "sock: 12 pixels"
    assert content_hash(a) == content_hash(copy) != content_hash(b)


def test_clean_splits_have_no_problems(tmp_path):
    a, b = picture(tmp_path / "a.png"), picture(tmp_path / "b.png", colour=(0, 90, 0))
    splits = {"train": [Item(a, (30, 40), [("shirt", 400.0)])],
              "val": [Item(b, None, [("shirt", 64.0)])]}  # fmt: skip
    assert find_problems(splits) == []
