"""LabelMe folders read as COCO instances: labels.txt's classes, grouped shapes as one
instance, rectangles and circles as regions, lines counted and left out, imagePath relative to
the JSON (Windows separators too); and the result read by the Mask R-CNN dataset."""

import json

import numpy as np
import pycocotools.mask as mask_util
import pytest
from helpers.parsing_layouts import clothing13_pairs, labelme_folders

from gluonext.errors import DatasetError
from gluonext.formats.clothing13 import CLASSES
from gluonext.formats.labelme import labelme_payload
from gluonext.instance.data import InstanceDataset


def test_a_labelme_folder_reads_as_coco_instances_matching_the_masks(tmp_path):
    pairs = clothing13_pairs(tmp_path / "c13", 4, size=(160, 200))
    labelme = labelme_folders(tmp_path / "project", pairs, val=1)
    payload = labelme_payload(labelme / "train")
    assert [c["name"] for c in payload["categories"]] == ["skin", "hair", "shoes"]
    assert [i["file_name"] for i in payload["images"]] == [
        str((tmp_path / "project" / "images" / p.name).resolve()) for p, _ in pairs[:3]]
    lines = sum(1 for p, _ in pairs[:3])
    assert payload["info"]["left_out"] == {"line shapes (no region)": lines}
    for image, (_, mask) in zip(payload["images"], pairs[:3], strict=True):
        ours = [a for a in payload["annotations"] if a["image_id"] == image["id"]]
        for annotation in ours:
            name = payload["categories"][annotation["category_id"] - 1]["name"]
            region = mask == CLASSES.index(name)
            drawn = mask_util.decode(annotation["segmentation"]).astype(bool)
            assert annotation["area"] == drawn.sum()
            if region.sum() >= 400:  # thin parts do not survive tracing to polygons
                assert (drawn & region).sum() / (drawn | region).sum() > 0.7, name
        # one instance per label present: pieces of one region share a group_id
        present = {n for n in ("skin", "hair", "shoes") if (mask == CLASSES.index(n)).any()}
        assert len(ours) == len(present)
    dataset = InstanceDataset(tmp_path, "train", annotation_file=str(labelme / "train"))
    image, label, segmentations = dataset.load(0)
    assert image.shape[:2] == pairs[0][1].shape and len(label) == len(segmentations) > 0


def test_rectangles_circles_and_bad_labels(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    record = {"shapes": [
        {"label": "bag", "points": [[10, 20], [2, 4]], "shape_type": "rectangle"},
        {"label": "bag", "points": [[30, 30], [30, 35]], "shape_type": "circle"},
    ], "imagePath": "a.jpg", "imageHeight": 50, "imageWidth": 60}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(record))
    payload = labelme_payload(tmp_path)
    boxes = sorted(a["bbox"] for a in payload["annotations"])
    assert boxes[0] == [2.0, 4.0, 8.0, 16.0]  # the rectangle, pixels 2..9 x 4..19
    assert abs(sorted(a["area"] for a in payload["annotations"])[0] - np.pi * 25) < 12  # circle
    (tmp_path / "labels.txt").write_text("shoe\n")
    with pytest.raises(DatasetError, match=r"a.json shape 0: label 'bag' is not in the classes"):
        labelme_payload(tmp_path)


def test_a_mask_shape_is_its_png_placed_at_its_first_point(tmp_path):
    """labelme's ``mask`` shapes: a base64 PNG over the shape's box, placed at points[0]."""
    import base64
    import io

    from PIL import Image

    part = np.zeros((4, 5), np.uint8)
    part[1:3, 1:4] = 255  # 6 pixels
    buffer = io.BytesIO()
    Image.fromarray(part).save(buffer, "PNG")
    record = {"shapes": [{"label": "belt", "points": [[2, 3], [7, 7]], "shape_type": "mask",
                          "mask": base64.b64encode(buffer.getvalue()).decode()}],
              "imagePath": "a.jpg", "imageHeight": 10, "imageWidth": 12}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(record))
    (annotation,) = labelme_payload(tmp_path)["annotations"]
    drawn = mask_util.decode(annotation["segmentation"])
    assert annotation["area"] == 6 and drawn[4:6, 3:6].all() and drawn.sum() == 6
