import json
import shutil

import numpy as np
import pycocotools.mask as mask_util
import pytest

from gluonext.errors import DatasetError
from gluonext.formats.imaterialist import MAIN_CATEGORY_IDS
from gluonext.instance.data import InstanceDataset


@pytest.fixture
def data(tiny_converted, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_converted, root)
    return root


def rewrite(path, change):
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


def test_items_are_image_boxes_and_rle_of_the_selected_categories(data):
    full = InstanceDataset(data, "train", "all")
    main = InstanceDataset(data, "train", "main")
    assert full.num_class == 46 and main.num_class == 13
    assert main.category_ids == list(MAIN_CATEGORY_IDS) and main.CLASSES[0] == "shirt, blouse"
    image, label, segs = main[0]
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert label.shape == (len(segs), 5) and set(label[:, 4]) <= set(range(13))
    # boxes are the masks' extents (continuous corners)
    h, w = image.shape[:2]
    for (x1, y1, x2, y2, _), seg in zip(label, segs, strict=True):
        mask = mask_util.decode({"size": [h, w], "counts": seg["counts"].encode()})
        ys, xs = np.nonzero(mask)
        assert (x1, y1, x2, y2) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_training_skips_unusable_images_with_a_count_and_val_keeps_all_sorted(data):
    path = data / "annotations" / "instances_train.json"
    payload = json.loads(path.read_text())
    victim = payload["images"][0]["id"]

    def spoil(p):
        for ann in p["annotations"]:
            if ann["image_id"] == victim:
                ann["bbox"][2] = 0  # zero-width boxes: all annotations of one image invalid
        p["images"].append({"id": 999, "file_name": "x.jpg", "height": 5, "width": 5})

    rewrite(path, spoil)
    before = sum(1 for a in payload["annotations"] if a["image_id"] == victim)
    train = InstanceDataset(data, "train", check_images=False)  # records only, files unread
    assert victim not in train.image_ids and 999 not in train.image_ids
    assert train.skipped["no usable annotation"] == 2
    assert train.invalid["box with zero area"] == before
    assert "2 images skipped" in train.summary()
    val = InstanceDataset(data, "train", skip_empty=False, check_images=False)
    assert val.image_ids == sorted(val.image_ids) and 999 in val.image_ids
    assert len(val) == len(payload["images"]) + 1


def test_polygons_and_plain_rle_are_read_too(data):
    path = data / "annotations" / "instances_val.json"
    payload = json.loads(path.read_text())
    ann = payload["annotations"][0]
    x, y, w, h = ann["bbox"]
    polygon = [[x, y, x + w, y, x + w, y + h, x, y + h]]

    def change(p):
        p["annotations"][0]["segmentation"] = polygon
        p["annotations"][1]["segmentation"] = {"size": [4, 4], "counts": [0, 16]}

    rewrite(path, change)
    dataset = InstanceDataset(data, "val")
    index = next(i for i, anns in enumerate(dataset.annotations) if anns[0]["id"] == ann["id"])
    assert dataset.segmentations(index)[0] == polygon


def test_missing_files_and_size_mismatches_are_named(data):
    with pytest.raises(DatasetError, match="instances_test.json: not found"):
        InstanceDataset(data, "test")
    with pytest.raises(DatasetError, match="none of --categories"):
        _only_unknown(data)
    path = data / "annotations" / "instances_val.json"
    rewrite(path, lambda p: p["images"][0].update(height=p["images"][0]["height"] + 3))
    with pytest.raises(DatasetError, match="image is .* but its annotation says"):
        InstanceDataset(data, "val")  # before any epoch, naming the file
    skipping = InstanceDataset(data, "val", skip_bad=True)
    assert skipping.skipped["image size differs from its annotation"] == 1
    assert len(skipping) == len(json.loads(path.read_text())["images"]) - 1
    (data / "annotations" / "instances_train.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not a COCO instances file"):
        InstanceDataset(data, "train")


def _only_unknown(data):
    path = data / "annotations" / "instances_train.json"
    rewrite(path, lambda p: p.update(categories=[c for c in p["categories"] if c["id"] > 20]))
    return InstanceDataset(data, "train", "main")


@pytest.mark.parametrize("edition, size", [(2019, 92), (2020, 294)])
def test_attribute_labels_follow_the_files_attribute_list(tmp_path, edition, size):
    """--attributes: one 0/1 label column per entry of label_descriptions.json's attributes,
    2019's 92 or 2020's 294 (ids with gaps), set from each annotation's attribute_ids."""
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.instance.data import InstanceDataset
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path / "data"
    write_imaterialist(root, 12, seed=4, size=(64, 80), progress=False, edition=edition)
    convert(ConvertOptions(data_root=root, val_num=4, categories="main", progress=False))
    dataset = InstanceDataset(root, "train", categories="main", attributes=True)
    vocabulary = dataset.vocabulary
    assert len(vocabulary) == size and vocabulary.ids == sorted(vocabulary.ids)
    carrying = 0
    for index in range(len(dataset)):
        label = dataset.label(index)
        assert label.shape[1] == 5 + size
        for row, ann in zip(label, dataset.annotations[index], strict=True):
            assert sorted(vocabulary.ids[k] for k in np.flatnonzero(row[5:])) == sorted(
                ann["attribute_ids"])
            carrying += bool(ann["attribute_ids"])
    assert carrying > 0
    assert InstanceDataset(root, "train", categories="main").label(0).shape[1] == 5
