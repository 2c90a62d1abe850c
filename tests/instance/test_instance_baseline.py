import json

import numpy as np
import pycocotools.mask as mask_util

from gluonext.instance.baseline import evaluate_baseline, mean_masks
from gluonext.instance.data import InstanceDataset


def _coco(path, count, first_id, shift=0):
    images, annotations = [], []
    for k in range(count):
        mask = np.zeros((100, 100), np.uint8, order="F")
        mask[20 + shift : 60 + shift, 30:70] = 1  # rows 20-59, columns 30-69
        rle = mask_util.encode(mask)
        image_id = first_id + k
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "height": 100, "width": 100})
        annotations.append({
            "id": image_id, "image_id": image_id, "category_id": 3, "iscrowd": 0,
            "bbox": [30, 20 + shift, 40, 40], "area": 1600,
            "segmentation": {"size": [100, 100], "counts": rle["counts"].decode()},
        })  # fmt: skip
    categories = [{"id": 3, "name": "skirt"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": categories}))  # fmt: skip
    return path


def test_prior_boxes_with_the_mean_mask_find_instances_that_never_move(tmp_path):
    train = InstanceDataset(tmp_path, "train", annotation_file=_coco(tmp_path / "t.json", 4, 1),
                            check_images=False)  # fmt: skip
    masks = mean_masks(train)
    assert masks.shape == (1, 28, 28) and masks.min() > 0.99  # a full square in its box
    same = InstanceDataset(tmp_path, "val", annotation_file=_coco(tmp_path / "v.json", 2, 10),
                           check_images=False)  # fmt: skip
    scores = evaluate_baseline(train, same)
    assert scores["segm"]["AP50"] > 0.99 and scores["bbox"]["AP50"] > 0.99
    moved = InstanceDataset(tmp_path, "val",
                            annotation_file=_coco(tmp_path / "m.json", 2, 10, shift=35),
                            check_images=False)  # fmt: skip
    assert evaluate_baseline(train, moved)["segm"]["AP50"] == 0.0
