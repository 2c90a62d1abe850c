"""What is wrong with a dataset, found before training on it: the same picture in two splits
(by content hash, whatever the file names), images whose size disagrees with their annotation
(or that are missing, empty or truncated), tiny or empty objects, images without labels and
classes seen in one split only."""

from __future__ import annotations

import hashlib
from collections import Counter

from gluonext.common.images import image_problem


def content_hash(path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_problems(splits: dict, min_size: float = 8.0) -> list[dict]:
    """Problems of ``splits`` (split name -> list of ``Item``), one dict each: ``kind``,
    ``split``, ``file`` (or ``class``) and ``detail``. Objects with an area under
    ``min_size`` squared pixels are tiny; of area 0, empty."""
    problems = []
    seen: dict[str, tuple[str, str]] = {}
    for split, items in splits.items():
        for item in items:
            name = str(item.image)
            where = {"split": split, "file": name}
            if item.image.is_file():
                key = content_hash(item.image)
                if key in seen and seen[key][0] != split:
                    problems.append({"kind": "same image in two splits", **where,
                                     "detail": f"identical to {seen[key][1]} ({seen[key][0]})"})
                seen.setdefault(key, (split, name))
            problem = image_problem(item.image, item.size)
            if problem:
                problems.append({"kind": "image", **where, "detail": problem})
            if not item.objects:
                problems.append({"kind": "image without labels", **where, "detail": ""})
            for label, area in item.objects:
                if area <= 0:
                    problems.append({"kind": "empty object", **where, "detail": label})
                elif area < min_size**2:
                    problems.append({"kind": "tiny object", **where,
                                     "detail": f"{label}: {area:.0f} pixels"})  # fmt: skip
    classes = {split: {label for item in items for label, _ in item.objects}
               for split, items in splits.items()}  # fmt: skip
    everywhere = set.union(*classes.values()) if classes else set()
    for label in sorted(everywhere):
        present = [split for split, names in classes.items() if label in names]
        absent = [split for split in classes if split not in present]
        if absent:
            problems.append({"kind": "class in one split only", "split": ", ".join(present),
                             "class": label, "detail": f"not in {', '.join(absent)}"})
    return problems


def problem_counts(problems: list[dict]) -> Counter:
    return Counter(p["kind"] for p in problems)
