import csv
import hashlib
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from gluonext.formats.fashionai import FASHIONAI_CATEGORY_KEYPOINTS, FASHIONAI_KEYPOINTS
from gluonext.formats.labelimg import VOC_CLASSES
from gluonext.sample import render, writers


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("fmt", sorted(writers.WRITERS))
def test_same_seed_same_files_other_seed_other_files(fmt, tmp_path):
    write = writers.WRITERS[fmt]
    write(tmp_path / "a", 3, 7, (96, 128), progress=False)
    write(tmp_path / "b", 3, 7, (96, 128), progress=False)
    write(tmp_path / "c", 3, 8, (96, 128), progress=False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def decode_kaggle(text, height, width):
    flat = np.zeros(height * width, np.uint8)
    values = [int(v) for v in text.split()]
    for start, length in zip(values[0::2], values[1::2], strict=True):
        assert length > 0 and start >= 1
        flat[start - 1 : start - 1 + length] = 1
    return flat.reshape(width, height).T


def test_imaterialist_files_read_back(imaterialist_sample):
    root = imaterialist_sample
    descriptions = json.loads((root / "label_descriptions.json").read_text())
    assert len(descriptions["categories"]) == 46 and len(descriptions["attributes"]) == 92
    with open(root / "train.csv", newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]
        rows = list(reader)
    images = {r[0] for r in rows}
    assert len(images) == 24 and [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert any("_" in r[4] for r in rows), "some rows carry attribute suffixes"
    categories = {int(r[4].split("_")[0]) for r in rows}
    assert len(categories & set(range(13))) >= 8 and {23, 31, 33} <= categories
    sizes = set()
    for image_id, encoded, height, width, _class_id in rows:
        height, width = int(height), int(width)
        with Image.open(root / "train" / image_id) as image:
            assert image.format == "JPEG" and image.size == (width, height)
        mask = decode_kaggle(encoded, height, width)
        assert mask.any()
        sizes.add((height, width))
    assert len(sizes) > 5, "image sizes vary as in the real data"


def test_clothing13_pairs_read_back(tmp_path):
    writers.write_clothing13(tmp_path, 6, 0, (96, 128), progress=False)
    stems = sorted(p.stem for p in tmp_path.glob("*.jpg"))
    assert stems == sorted(p.stem for p in tmp_path.glob("*.png")) and len(stems) == 6
    seen = set()
    for stem in stems:
        with (
            Image.open(tmp_path / f"{stem}.png") as png,
            Image.open(tmp_path / f"{stem}.jpg") as jpg,
        ):
            assert png.mode == "L" and png.size == jpg.size == (96, 128)
            label = np.asarray(png)
        values = set(np.unique(label).tolist())
        assert values <= set(range(13)) | {255}
        assert 255 in values and 0 in values
        seen |= values
    assert {1, 2, 9} <= seen  # skin, hair and shoes in every outfit


def test_voc_xml_reads_back_with_elementtree(tmp_path):
    writers.write_voc(tmp_path, 12, 0, (160, 160), progress=False)
    names = set()
    for xml_path in sorted(tmp_path.glob("*.xml")):
        root = ET.parse(xml_path).getroot()
        filename = root.findtext("filename")
        width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        with Image.open(tmp_path / filename) as image:
            assert image.size == (width, height)
        objects = root.findall("object")
        assert objects
        for obj in objects:
            names.add(obj.findtext("name"))
            box = [int(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            assert 1 <= box[0] < box[2] <= width and 1 <= box[1] < box[3] <= height
    assert names <= set(VOC_CLASSES) and {"Tops", "Dresses"} & names


def test_fashionai_csv_reads_back(tmp_path):
    writers.write_fashionai(tmp_path, 15, 0, (128, 128), progress=False)
    with open(tmp_path / "Annotations" / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["image_id", "image_category", *FASHIONAI_KEYPOINTS]
    assert len(rows[0]) == 26 and len(rows) == 15
    for row in rows:
        category = row["image_category"]
        assert row["image_id"].startswith(f"Images/{category}/")
        with Image.open(tmp_path / row["image_id"]) as image:
            width, height = image.size
        own = set(FASHIONAI_CATEGORY_KEYPOINTS[category])
        for name in FASHIONAI_KEYPOINTS:
            cell = row[name]
            assert re.fullmatch(r"-?\d+_-?\d+_-?1|\d+_\d+_0", cell), cell
            x, y, v = (int(t) for t in cell.split("_"))
            if name not in own:
                assert (x, y, v) == (-1, -1, -1)
            elif v >= 0:
                assert 0 <= x < width and 0 <= y < height


def test_keypoints_are_landmarks_of_the_drawn_garment():
    rng = np.random.RandomState(5)
    checked = 0
    for index in range(20):
        category = writers.FASHIONAI_CATEGORIES[index % 5]
        scene = render.render_scene(rng, (160, 160), "fashionai", category)
        garments = [
            i
            for i in scene.instances
            if i.parent is None and i.kind in render.FASHIONAI_MAIN_KINDS[category]
        ]
        assert garments
        mask = np.logical_or.reduce([g.mask for g in garments])
        ys, xs = np.nonzero(mask)
        for x, y, v in scene.keypoints.values():
            if v == 1:  # a visible landmark lies on the garment's visible outline
                assert np.min(np.hypot(xs - x, ys - y)) <= 2.5
                checked += 1
    assert checked > 100


def test_parts_lie_inside_their_garment_and_masks_are_exact():
    scene = render.render_scene(np.random.RandomState(11), (200, 260), "imaterialist")
    kinds = [i.kind for i in scene.instances]
    assert "sleeve" in kinds and "shoe" in kinds
    for instance in scene.instances:
        assert instance.mask.shape == scene.image.shape[:2] and instance.mask.any()
        if instance.parent is not None:
            parent = scene.instances[instance.parent]
            assert not (instance.mask & ~parent.mask).any()
    whole = [i for i in scene.instances if i.parent is None]
    overlap = np.sum([i.mask.astype(int) for i in whole], axis=0)
    assert overlap.max() == 1  # visible masks of whole objects never overlap
