#!/usr/bin/env python
"""The older iMaterialist converter's method, re-created for timing comparisons only.

What the older iMaterialist-to-COCO converter did, in the shape of its work: load the table,
then for every image filter the whole table for its rows (quadratic), decode each row's RLE to
a full pixel mask with a Python loop over runs, and re-encode with pycocotools. Ids start at 0,
as it did.

    python bench/legacy_convert.py DATA_ROOT OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pycocotools.mask as mask_util


def rle_decode(encoded: str, height: int, width: int) -> np.ndarray:
    flat = np.zeros(height * width, dtype=np.uint8)
    values = encoded.split()
    for start, length in zip(values[0::2], values[1::2], strict=True):
        start = int(start) - 1
        flat[start : start + int(length)] = 1
    return flat.reshape((height, width), order="F")


def main(data_root: str, out_dir: str) -> int:
    table = pd.read_csv(Path(data_root) / "train.csv")
    images, annotations = [], []
    for image_index, image_id in enumerate(table["ImageId"].unique()):
        rows = table[table["ImageId"] == image_id]  # full-table scan per image
        height, width = int(rows.iloc[0]["Height"]), int(rows.iloc[0]["Width"])
        images.append({"id": image_index, "file_name": image_id, "height": height, "width": width})
        for _, row in rows.iterrows():
            mask = rle_decode(row["EncodedPixels"], height, width)
            encoded = mask_util.encode(np.asfortranarray(mask))
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": image_index,
                    "category_id": int(str(row["ClassId"]).split("_")[0]),
                    "segmentation": {"size": [height, width], "counts": encoded["counts"].decode()},
                    "area": int(mask_util.area(encoded)),
                    "bbox": mask_util.toBbox(encoded).tolist(),
                    "iscrowd": 0,
                }
            )
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(out_dir) / "instances_train.json", "w") as handle:
        json.dump({"images": images, "annotations": annotations}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
