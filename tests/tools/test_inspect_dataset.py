"""tools/inspect_dataset.py on every format the scripts read: its counts equal the annotation
files' own (read here with plain parsers), its pictures are written, and problems planted in a
LabelImg folder are listed."""

import csv
import json
import shutil
import xml.etree.ElementTree as ET
from collections import Counter

import inspect_dataset
import numpy as np
from helpers.parsing_layouts import clothing13_pairs, labelme_folders, voc_segmentation
from PIL import Image

from gluonext.formats.clothing13 import CLASSES
from gluonext.formats.labelimg_tables import write_lines
from gluonext.sample.writers import write_clothing13, write_fashionai, write_voc


def run(tmp_path, dataset, root, *flags):
    out = tmp_path / f"inspect_{dataset}"
    argv = ["--dataset", dataset, "--data-root", str(root), "--output", str(out), *flags]
    assert inspect_dataset.main(inspect_dataset.parse_args(argv)) == 0
    for name in ("contact_sheet.jpg", "class_counts.png", "object_sizes.png"):
        with Image.open(out / name) as picture:
            assert min(picture.size) > 100, name
    with open(out / "class_counts.csv", newline="") as handle:
        counts = {row["class"]: int(row["train"]) + int(row["val"])
                  for row in csv.DictReader(handle)}  # fmt: skip
    return counts, json.loads((out / "problems.json").read_text())


def test_coco_counts_are_the_json_annotations(tiny_converted, tmp_path):
    counts, _ = run(tmp_path, "coco", tiny_converted)
    expected = Counter()
    for split in ("train", "val"):
        path = tiny_converted / "annotations" / f"instances_{split}.json"
        payload = json.loads(path.read_text())
        names = {c["id"]: c["name"] for c in payload["categories"]}
        expected.update(names[a["category_id"]] for a in payload["annotations"])
    assert counts == dict(expected)
    with Image.open(tmp_path / "inspect_coco" / "contact_sheet.jpg") as sheet:
        assert sheet.size == (4 * 256, 4 * (256 + 18))  # 16 pictures, 4 columns


def test_fashionai_and_clothing13_are_read_as_their_scripts_read_them(tmp_path):
    fashionai = tmp_path / "fashionai"
    write_fashionai(fashionai, 20, seed=2, size=(96, 128), progress=False)
    counts, _ = run(tmp_path, "fashionai", fashionai, "--val-ratio", "0.25")
    with open(fashionai / "Annotations" / "train.csv", newline="") as handle:
        assert counts == dict(Counter(row["image_category"] for row in csv.DictReader(handle)))
    clothing = tmp_path / "clothing13"
    write_clothing13(clothing, 12, seed=2, size=(96, 128), progress=False)
    counts, _ = run(tmp_path, "clothing13", clothing, "--num-images", "4")
    assert max(counts.values()) <= 12 and "skin" in counts


def test_planted_problems_in_a_labelimg_folder_are_listed(tmp_path):
    voc = tmp_path / "voc"
    write_voc(voc, 10, seed=4, size=(96, 96), progress=False)
    stems = sorted(p.stem for p in voc.glob("*.xml"))
    # a training picture again in validation under another name
    shutil.copy(voc / f"{stems[0]}.jpg", voc / "again.jpg")
    shutil.copy(voc / f"{stems[0]}.xml", voc / "again.xml")
    tree = ET.parse(voc / "again.xml")
    tree.find("filename").text = "again.jpg"
    obj = tree.find("object")
    obj.find("name").text = "Scarves"  # a class seen in validation only
    box = obj.find("bndbox")
    box.find("xmax").text = str(int(box.find("xmin").text) + 3)  # a tiny box
    box.find("ymax").text = str(int(box.find("ymin").text) + 3)
    tree.write(voc / "again.xml")
    write_lines(voc / "train.txt", stems[:7])
    write_lines(voc / "test.txt", [*stems[7:], "again"])
    counts, problems = run(tmp_path, "voc", voc)
    objects = Counter(o.find("name").text for path in voc.glob("*.xml")
                      for o in ET.parse(path).findall("object"))  # fmt: skip
    assert counts == dict(objects)
    found = {(p["kind"], p.get("file", p.get("class", "")).split("/")[-1]) for p in problems}
    assert ("same image in two splits", "again.jpg") in found
    assert ("tiny object", "again.jpg") in found
    assert ("class in one split only", "Scarves") in found


def test_a_missing_folder_is_a_one_line_error(tmp_path):
    argv = ["--dataset", "voc", "--data-root", "nowhere", "--output", str(tmp_path)]
    assert inspect_dataset.main(inspect_dataset.parse_args(argv)) == 2
    assert "error: --data-root nowhere: folder not found" in (tmp_path / "inspect.log").read_text()


def test_a_parsing_folder_counts_images_per_class_from_its_masks(tmp_path):
    root = voc_segmentation(tmp_path / "VOC", clothing13_pairs(tmp_path / "c13", 6), val=2)
    counts, _ = run(tmp_path, "folder", root)
    expected = Counter()  # from the masks as written (VOC's 255 borders swallow thin parts)
    for png in (root / "SegmentationClass").glob("*.png"):
        values = set(np.asarray(Image.open(png)).ravel()) - {0, 255}
        expected.update(CLASSES[v] for v in values)
    assert counts == dict(expected)


def test_labelme_folders_are_inspected_as_coco(tmp_path):
    labelme = labelme_folders(tmp_path / "project", clothing13_pairs(tmp_path / "c13", 5), val=2)
    counts, _ = run(tmp_path, "coco", tmp_path / "project", "--train-json", str(labelme / "train"),
                    "--val-json", str(labelme / "val"))  # fmt: skip
    shapes = Counter()
    for path in labelme.glob("*/*.json"):
        record = json.loads(path.read_text())
        regions = {(s["label"], s["group_id"] if s["group_id"] is not None else id(s))
                   for s in record["shapes"] if s["shape_type"] == "polygon"}  # fmt: skip
        shapes.update(label for label, _ in regions)
    assert counts == dict(shapes)
