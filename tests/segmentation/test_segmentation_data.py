import json
import shutil

import numpy as np
import pytest
from PIL import Image

from gluonext.formats.imaterialist_coco import ConvertOptions, convert
from gluonext.sample.writers import write_clothing13
from gluonext.segmentation import data as seg
from gluonext.segmentation.presets import IGNORE_LABEL, seg_train_transform


@pytest.fixture(scope="module")
def converted(imaterialist_sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("seg") / "data"
    shutil.copytree(imaterialist_sample, root)
    convert(ConvertOptions(data_root=root, val_num=4, progress=False))
    return root


def decode(ann):
    import pycocotools.mask as mask_util

    seg_ = ann["segmentation"]
    return mask_util.decode({"size": seg_["size"], "counts": seg_["counts"].encode()}).astype(bool)


@pytest.mark.parametrize(
    "name, classes", [("imaterialist", 14), ("imaterialist_parts", 4), ("imaterialist_binary", 2)]
)
def test_label_modes(converted, name, classes):
    ds = seg.get_segmentation_dataset(name, converted, "train", mode="testval")
    assert ds.NUM_CLASS == classes == len(ds.CLASSES) and ds.pred_offset == 0
    image, label = ds[0]
    assert image.dtype == np.float32 and image.shape[0] == 3 and label.dtype == np.int32
    assert image.shape[1:] == label.shape
    assert label.min() >= 0 and label.max() < classes


def test_parts_labels_follow_supercategories_and_small_garments_stay_on_top(converted):
    payload = json.loads((converted / "annotations" / "instances_train.json").read_text())
    ds = seg.IMaterialistSegmentation(converted, "train", "testval", label_mode="parts")
    part_of = {
        c["id"]: {"upperbody": 1, "lowerbody": 2, "wholebody": 3}.get(c["supercategory"])
        for c in payload["categories"]
    }
    checked = 0
    for index, info in enumerate(ds.images):
        label = ds.label(index)
        anns = sorted(
            (
                a
                for a in payload["annotations"]
                if a["image_id"] == info["id"] and a["category_id"] < 13
            ),
            key=lambda a: a["area"],
        )
        if not anns:
            assert not label.any()
            continue
        smallest = anns[0]
        mask = decode(smallest)
        assert (label[mask] == part_of[smallest["category_id"]]).all()
        union = np.logical_or.reduce([decode(a) for a in anns])
        assert ((label > 0) == union).all()  # parts and accessories stay background
        checked += 1
    assert checked >= 10


def test_train_items_are_reproducible_by_seed_and_padding_is_ignore(converted):
    ds = seg.get_segmentation_dataset(
        "imaterialist_parts", converted, "train", base_size=64, crop_size=96
    )
    a_img, a_lab = ds[(3, 123)]
    b_img, b_lab = ds[(3, 123)]
    np.testing.assert_array_equal(a_img, b_img)
    np.testing.assert_array_equal(a_lab, b_lab)
    assert a_img.shape == (3, 96, 96) and a_lab.shape == (96, 96)
    # long side at most 2 x 64 = 128 -> an image of aspect < 0.75 needs padding somewhere
    padded = [ds[(i, 7)][1] for i in range(len(ds))]
    assert any((lab == IGNORE_LABEL).any() for lab in padded)
    assert all(set(np.unique(lab)) <= {-1, 0, 1, 2, 3} for lab in padded)


def test_train_transform_pads_with_ignore_not_background():
    image = np.full((20, 10, 3), 200, np.uint8)
    mask = np.ones((20, 10), np.int32)
    rng = np.random.RandomState(0)
    out_img, out_mask = seg_train_transform(image, mask, rng, base_size=16, crop_size=40)
    assert out_img.shape == (40, 40, 3) and out_mask.shape == (40, 40)
    assert set(np.unique(out_mask)) == {IGNORE_LABEL, 1}
    assert (out_img[out_mask == IGNORE_LABEL] == 0).all()


def test_clothing13_maps_255_to_ignore_and_splits_by_seed(tmp_path):
    write_clothing13(tmp_path, 10, 0, (64, 80), progress=False)
    train = seg.Clothing13Segmentation(tmp_path, "train", "testval", val_fraction=0.2, seed=1)
    val = seg.Clothing13Segmentation(tmp_path, "val", "testval", val_fraction=0.2, seed=1)
    assert len(train) == 8 and len(val) == 2 and not set(train.stems) & set(val.stems)
    _, label = train[0]
    raw = np.asarray(Image.open(tmp_path / f"{train.stems[0]}.png"))
    assert ((label == IGNORE_LABEL) == (raw == 255)).all()
    assert ds_classes_ok(train)


def ds_classes_ok(ds):
    return ds.NUM_CLASS == 13 and ds.CLASSES[0] == "background"


def test_bad_clothing13_mask_names_the_file(tmp_path):
    write_clothing13(tmp_path, 3, 0, (64, 80), progress=False)
    Image.fromarray(np.full((80, 64), 40, np.uint8)).save(tmp_path / "0001.png")
    ds = seg.Clothing13Segmentation(tmp_path, "train", "testval", val_fraction=0.0001)
    index = ds.stems.index("0001")
    with pytest.raises(seg.DatasetError, match=r"0001.png: values \[40\]"):
        ds[index]


def test_missing_annotations_and_unknown_dataset(tmp_path):
    with pytest.raises(seg.DatasetError, match="convert_imaterialist_to_coco"):
        seg.get_segmentation_dataset("imaterialist", tmp_path, "train")
    with pytest.raises(seg.DatasetError, match="choose from"):
        seg.get_segmentation_dataset("pascal", tmp_path, "train")
    with pytest.raises(seg.DatasetError, match="no <id>.jpg"):
        seg.get_segmentation_dataset("clothing13", tmp_path, "train")


def test_image_size_disagreeing_with_annotation_is_reported(converted, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(converted, root)
    ds = seg.IMaterialistSegmentation(root, "val", "testval", label_mode="parts")
    Image.new("RGB", (7, 9)).save(ds.image_path(0), format="JPEG")
    with pytest.raises(seg.DatasetError, match="annotation says"):
        ds[0]


def test_a_parsing_folder_with_photos_beside_their_masks_splits_by_seed(tmp_path):
    """--dataset folder --image-dir . --mask-dir .: photo.jpg and photo.png in one folder; the
    masks are not taken for photos, and the seeded split is disjoint and complete."""
    from helpers.parsing_layouts import clothing13_pairs

    from gluonext.formats.clothing13 import CLASSES
    from gluonext.segmentation.data import FolderSegmentation

    pairs = clothing13_pairs(tmp_path, 10)
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    splits = {s: FolderSegmentation(tmp_path, s, "testval", image_dir=".", mask_dir=".")
              for s in ("train", "val")}  # fmt: skip
    names = {s: [d.image_path(i).name for i in range(len(d))] for s, d in splits.items()}
    assert sorted(names["train"] + names["val"]) == sorted(p.name for p, _ in pairs)
    assert len(names["val"]) == 1 and not set(names["train"]) & set(names["val"])
    label = splits["train"].label(0)
    expected = pairs[[p.name for p, _ in pairs].index(names["train"][0])][1].astype(int)
    assert np.array_equal(label, np.where(expected == 255, -1, expected))
