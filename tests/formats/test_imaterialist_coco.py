import csv
import json
import shutil

import numpy as np
import pycocotools.mask as mask_util
import pytest
from PIL import Image

from gluonext.formats import imaterialist_coco as conv
from gluonext.formats import rle


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]
        )
        writer.writeheader()
        writer.writerows(rows)


def naive_decode(text, height, width):
    """Decode Kaggle RLE the plain way, independently of gluonext.formats.rle."""
    flat = np.zeros(height * width, np.uint8)
    values = [int(v) for v in text.split()]
    for start, length in zip(values[0::2], values[1::2], strict=True):
        flat[start - 1 : start - 1 + length] = 1
    return flat.reshape(width, height).T


def coco_decode(ann):
    seg = ann["segmentation"]
    return mask_util.decode({"size": seg["size"], "counts": seg["counts"].encode()})


@pytest.fixture
def data(imaterialist_sample, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(imaterialist_sample, root)
    return root


def run(root, **kwargs):
    kwargs.setdefault("progress", False)
    return conv.convert(conv.ConvertOptions(data_root=root, **kwargs))


def load(root, split):
    return json.loads((root / "annotations" / f"instances_{split}.json").read_text())


def test_every_mask_matches_the_csv_and_pycocotools(data):
    rows = read_csv(data / "train.csv")
    report = run(data, val_num=5, check_images=True)
    assert report.images == {"train": 19, "val": 5}
    anns, images = [], {}
    for split in ("train", "val"):
        payload = load(data, split)
        anns += payload["annotations"]
        images.update({i["id"]: i for i in payload["images"]})
        assert len(payload["categories"]) == 46 and len(payload["attributes"]) == 92
    assert len(anns) == len(rows)
    assert sorted(a["id"] for a in anns) == list(range(1, len(rows) + 1))
    assert sorted(images) == list(range(1, 25))
    # rows in CSV order per image match annotations in id order per image
    by_image = {}
    for ann in sorted(anns, key=lambda a: a["id"]):
        by_image.setdefault(images[ann["image_id"]]["file_name"], []).append(ann)
    for image_id, group in by_image.items():
        csv_rows = [r for r in rows if r["ImageId"] == image_id]
        assert len(csv_rows) == len(group)
        for row, ann in zip(csv_rows, group, strict=True):
            height, width = int(row["Height"]), int(row["Width"])
            expected = naive_decode(row["EncodedPixels"], height, width)
            np.testing.assert_array_equal(coco_decode(ann), expected)
            ref = mask_util.encode(np.asfortranarray(expected))
            assert ann["area"] == int(mask_util.area(ref)) == int(expected.sum())
            assert ann["bbox"] == mask_util.toBbox(ref).tolist()
            category, *attrs = (int(v) for v in row["ClassId"].split("_"))
            assert ann["category_id"] == category and ann["attribute_ids"] == attrs
            assert ann["iscrowd"] == 0
            image = images[ann["image_id"]]
            assert (image["height"], image["width"]) == (height, width)
            with Image.open(data / "train" / image["file_name"]) as img:
                assert img.size == (width, height)


def test_split_is_deterministic_capped_and_seeded(data):
    run(data, val_num=6, seed=1)
    first = [i["file_name"] for i in load(data, "val")["images"]]
    run(data, val_num=6, seed=1)
    assert [i["file_name"] for i in load(data, "val")["images"]] == first
    run(data, val_num=6, seed=2)
    assert [i["file_name"] for i in load(data, "val")["images"]] != first
    report = run(data, val_num=1000)
    assert report.images == {"train": 0, "val": 24}


def test_workers_give_identical_output(data, tmp_path):
    run(data, val_num=4, output_dir=tmp_path / "one")
    run(data, val_num=4, output_dir=tmp_path / "two", workers=2)
    for split in ("train", "val"):
        one = (tmp_path / "one" / f"instances_{split}.json").read_bytes()
        assert one == (tmp_path / "two" / f"instances_{split}.json").read_bytes()


def test_main_categories_keep_only_the_13_main_apparel(data):
    report = run(data, categories="main", val_num=0)
    payload = load(data, "train")
    assert [c["id"] for c in payload["categories"]] == list(range(13))
    assert payload["annotations"] and {a["category_id"] for a in payload["annotations"]} <= set(
        range(13)
    )
    assert report.filtered_rows == len(read_csv(data / "train.csv")) - len(payload["annotations"])
    assert len(payload["images"]) == 24  # images keep their place even with no main garment


def test_resize_val_keeps_bbox_area_and_size_consistent(data):
    report = run(data, val_num=4, resize_val=(64, 48))
    resized = json.loads(report.outputs["val_resized"].read_text())
    assert all((i["width"], i["height"]) == (64, 48) for i in resized["images"])
    assert len(resized["annotations"]) == sum(report.annotations["val"].values())
    for ann in resized["annotations"]:
        mask = coco_decode(ann)
        assert mask.shape == (48, 64)
        ref = mask_util.encode(np.asfortranarray(mask))
        assert ann["area"] == int(mask.sum())
        assert ann["bbox"] == mask_util.toBbox(ref).tolist()


def test_swapped_height_width_is_fixed_from_the_image(data):
    rows = read_csv(data / "train.csv")
    target = rows[0]["ImageId"]
    truth = []
    for row in rows:
        if row["ImageId"] == target:
            height, width = int(row["Height"]), int(row["Width"])
            mask = naive_decode(row["EncodedPixels"], height, width)
            truth.append((row["ClassId"], mask))
            # the recorded mask is the true one turned the other way, with Height/Width swapped
            recorded = np.ascontiguousarray(mask[:, ::-1].T)
            row["EncodedPixels"] = rle.mask_to_kaggle(recorded)
            row["Height"], row["Width"] = width, height
    write_csv(data / "train.csv", rows)
    report = run(data, val_num=0, check_images=True)
    assert report.fixed_swapped == 1
    payload = load(data, "train")
    image = next(i for i in payload["images"] if i["file_name"] == target)
    anns = [a for a in payload["annotations"] if a["image_id"] == image["id"]]
    assert (image["height"], image["width"]) == truth[0][1].shape
    assert len(anns) == len(truth)
    for ann, (class_id, mask) in zip(sorted(anns, key=lambda a: a["id"]), truth, strict=True):
        assert "_".join(map(str, [ann["category_id"], *ann["attribute_ids"]])) == class_id
        np.testing.assert_array_equal(coco_decode(ann), mask)


def test_bad_rows_fail_with_line_or_skip_with_reasons(data):
    rows = read_csv(data / "train.csv")
    rows[2]["EncodedPixels"] = "1 2 3"  # odd count -> CSV line 4
    rows[4]["ClassId"] = "77"  # unknown category
    rows[5]["ClassId"] = "1_500"  # unknown attribute
    rows[6]["Height"] = "tall"
    rows[7]["EncodedPixels"] = "1 999999999"  # past the image
    write_csv(data / "train.csv", rows)
    with pytest.raises(conv.ConversionError, match=r"train.csv line 4 .*odd number"):
        run(data)
    report = run(data, on_error="skip", val_num=0)
    rejected = read_csv(data / "annotations" / "rejected_rows.csv")
    assert [int(r["line"]) for r in rejected] == [4, 6, 7, 8, 9]
    reasons = " | ".join(r["reason"] for r in rejected)
    for text in (
        "odd number",
        "unknown category id 77",
        "unknown attribute ids [500]",
        "whole numbers",
        "past the",
    ):
        assert text in reasons
    assert sum(report.annotations["train"].values()) == len(rows) - 5
    assert "rows skipped: 5" in conv.format_summary(report)


def test_inconsistent_image_size_across_rows_is_an_error(data):
    rows = read_csv(data / "train.csv")
    first = rows[0]["ImageId"]
    second_row = next(i for i, r in enumerate(rows) if r["ImageId"] == first and i > 0)
    rows[second_row]["Height"] = str(int(rows[second_row]["Height"]) + 1)
    write_csv(data / "train.csv", rows)
    with pytest.raises(conv.ConversionError, match="differ from"):
        run(data)


def test_missing_and_mismatched_images_with_check_images(data):
    rows = read_csv(data / "train.csv")
    ids = sorted({r["ImageId"] for r in rows})
    (data / "train" / ids[0]).unlink()
    Image.new("RGB", (33, 44)).save(data / "train" / ids[1])
    with pytest.raises(conv.ConversionError, match="image file not found"):
        run(data, check_images=True)
    report = run(data, check_images=True, on_error="skip", val_num=0)
    reasons = {r.image_id: r.reason for r in report.rejected}
    assert "image file not found" in reasons[ids[0]]
    assert "CSV says" in reasons[ids[1]]
    expected = sum(1 for r in rows if r["ImageId"] in ids[:2])
    assert len(report.rejected) == expected
    assert report.images["train"] == 22
    cut = data / "train" / ids[2]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 2 // 5])  # an interrupted copy
    report = run(data, check_images=True, on_error="skip", val_num=0)
    assert any("truncated JPEG" in r.reason and r.image_id == ids[2] for r in report.rejected)
    assert report.images["train"] == 21
    # without --check-images nothing is read from the images
    assert run(data, val_num=0).images["train"] == 24


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "file is empty"),
        ("ImageId,EncodedPixels,Height,Width,ClassId\n", "no data rows"),
        ("ImageId,EncodedPixels,Height,ClassId\nx,1 1,2,0\n", "missing column\\(s\\) Width"),
    ],
)
def test_empty_or_headerless_csv(data, content, message):
    (data / "train.csv").write_text(content)
    with pytest.raises(conv.ConversionError, match=message):
        run(data)


def test_missing_inputs_are_named(tmp_path, data):
    with pytest.raises(conv.ConversionError, match="train.csv: file not found"):
        run(tmp_path)
    (data / "label_descriptions.json").unlink()
    from gluonext.formats.imaterialist import LabelDescriptionError

    with pytest.raises(LabelDescriptionError, match="label_descriptions.json: file not found"):
        run(data)


def test_interrupted_conversion_leaves_previous_outputs(data, monkeypatch):
    run(data, val_num=3)
    before = {p.name: p.read_bytes() for p in (data / "annotations").iterdir()}

    monkeypatch.setattr(conv, "write_json", _write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(data, val_num=5)
    after = {p.name: p.read_bytes() for p in (data / "annotations").iterdir()}
    assert after == before


def _write_then_interrupt(path, payload, indent=None):
    from gluonext.common.files import atomic_open

    with atomic_open(path, "w") as handle:
        handle.write(json.dumps(payload)[:100])  # half the file, then the user presses Ctrl-C
        raise KeyboardInterrupt


def test_a_clean_rerun_removes_the_reject_list_of_an_earlier_one(data):
    rows = (data / "train.csv").read_text()
    (data / "train.csv").write_text(rows + "broken,1 2 3,10,10,1\n")
    run(data, on_error="skip")
    assert (data / "annotations" / "rejected_rows.csv").is_file()
    (data / "train.csv").write_text(rows)
    report = run(data)
    assert not (data / "annotations" / "rejected_rows.csv").exists()
    assert "rejected" not in report.outputs


def test_the_2020_csv_keeps_its_attributes_column(tmp_path):
    """iMaterialist-Fashion-2020 (FGVC7): ClassId is the category alone, the attributes come
    in their own AttributesIds column ("115,136"), ImageIds lack their .jpg, and
    label_descriptions.json lists 294 attributes with ids up to 340."""
    from gluonext.sample.writers import write_imaterialist_2020

    root = tmp_path / "data2020"
    write_imaterialist_2020(root, 16, seed=1, size=(96, 128), progress=False)
    rows = read_csv(root / "train.csv")
    assert list(rows[0]) == ["ImageId", "EncodedPixels", "Height", "Width", "ClassId",
                             "AttributesIds"]  # fmt: skip
    assert not rows[0]["ImageId"].endswith(".jpg") and "_" not in rows[0]["ClassId"]
    with_attributes = [r for r in rows if r["AttributesIds"]]
    assert with_attributes and any("," in r["AttributesIds"] for r in with_attributes)
    descriptions = json.loads((root / "label_descriptions.json").read_text())
    attribute_ids = [a["id"] for a in descriptions["attributes"]]
    assert len(descriptions["categories"]) == 46 and len(attribute_ids) == 294
    assert max(attribute_ids) > 293  # ids with gaps, as the competition's
    report = run(root, val_num=3, check_images=True)
    assert not report.rejected and sum(report.images.values()) == 16
    train, val = load(root, "train"), load(root, "val")
    assert train["info"]["description"].startswith("iMaterialist Fashion 2020")
    assert len(train["attributes"]) == 294
    expected = {}  # (file name, category, RLE) -> attribute ids, from the CSV
    for r in rows:
        ids = [int(i) for i in r["AttributesIds"].split(",")] if r["AttributesIds"] else []
        expected[(r["ImageId"] + ".jpg", int(r["ClassId"]), r["EncodedPixels"])] = ids
    names = {im["id"]: im["file_name"] for split in (train, val) for im in split["images"]}
    found = 0
    for split in (train, val):
        for ann in split["annotations"]:
            mask = coco_decode(ann)
            h, w = mask.shape
            encoded = " ".join(map(str, rle.mask_to_kaggle(mask.astype(bool)).split()))
            key = (names[ann["image_id"]], ann["category_id"], encoded)
            assert ann["attribute_ids"] == expected[key], key
            found += 1
    assert found == len(rows)


def test_a_bad_2020_attributes_cell_names_its_line(tmp_path):
    from gluonext.sample.writers import write_imaterialist_2020

    root = tmp_path / "data2020"
    write_imaterialist_2020(root, 4, seed=4, size=(96, 128), progress=False)
    lines = (root / "train.csv").read_text().splitlines()
    cells = lines[2].split(",")
    lines[2] = ",".join(cells[:5]) + ',"115,x"'
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(conv.ConversionError, match=r"line 3 .*AttributesIds '115,x' is not"):
        run(root, val_num=1)
    report = run(root, val_num=1, on_error="skip")
    assert [(r.line, "AttributesIds" in r.reason) for r in report.rejected] == [(3, True)]
