"""LabelMe: a folder of per-image JSON files as labelme saves them, read as COCO instances.

Each file (labelme's documented format) has ``imagePath`` (relative to the JSON file),
``imageHeight``, ``imageWidth`` and ``shapes``: ``label``, ``points``, ``shape_type``
(``polygon``, ``rectangle``, ``circle``; ``mask`` with its base64 PNG over the shape's box) and
``group_id``: shapes of one label and one group_id are one instance (labelme's own rule);
``line``, ``linestrip`` and ``point`` shapes mark no region and are counted, not used. Classes
come from ``labels.txt`` in the folder or the one above (labelme's convention, its
``__ignore__`` and ``_background_`` lines skipped), else from the labels found, sorted.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util

from gluonext.errors import DatasetError

REGION_SHAPES = ("polygon", "rectangle", "circle", "mask")


def labelme_classes(folder: Path, found: set[str]) -> list[str]:
    """The class names: ``labels.txt`` beside the JSON files or one folder up, else sorted."""
    for candidate in (folder / "labels.txt", folder.parent / "labels.txt"):
        if candidate.is_file():
            names = [line.strip() for line in candidate.read_text(encoding="utf-8").splitlines()]
            return [n for n in names if n and n not in ("__ignore__", "_background_")]
    return sorted(found)


def shape_polygon(shape: dict, where: str) -> list[float]:
    """A polygon, flat ``[x0, y0, x1, y1, ...]``, of a polygon, rectangle or circle shape."""
    points = np.asarray(shape.get("points") or [], dtype=np.float64).reshape(-1, 2)
    kind = shape.get("shape_type") or "polygon"
    if kind == "rectangle" and len(points) == 2:
        (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
        points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    elif kind == "circle" and len(points) == 2:
        radius = float(np.hypot(*(points[1] - points[0])))
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        points = points[0] + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    if len(points) < 3:
        raise DatasetError(f"{where}: a {kind} needs more points than {len(points)}")
    return points.ravel().tolist()


def shape_rle(shape: dict, height: int, width: int, where: str) -> dict:
    """The shape's region as a COCO RLE."""
    if shape.get("shape_type") == "mask":
        from PIL import Image

        try:
            data = base64.b64decode(shape["mask"])
            with Image.open(io.BytesIO(data)) as png:
                part = np.asarray(png.convert("L")) > 0
        except (KeyError, ValueError, OSError):
            raise DatasetError(f"{where}: a mask shape without a readable PNG") from None
        x1, y1 = (max(0, int(round(v))) for v in shape["points"][0])
        full = np.zeros((height, width), np.uint8)
        h, w = min(part.shape[0], height - y1), min(part.shape[1], width - x1)
        full[y1 : y1 + h, x1 : x1 + w] = part[:h, :w]
        return mask_util.encode(np.asfortranarray(full))
    return mask_util.merge(mask_util.frPyObjects([shape_polygon(shape, where)], height, width))


def labelme_payload(folder) -> dict:
    """The COCO instances payload of a LabelMe folder (``info.image_dir`` the folder itself,
    ``info.left_out`` counting the shapes that mark no region)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise DatasetError(f"{folder}: no LabelMe JSON files")
    records, labels = [], set()
    for path in files:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            shapes, image_path = record["shapes"], record["imagePath"]
            height, width = int(record["imageHeight"]), int(record["imageWidth"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}: not a LabelMe JSON file ({exc!r})") from None
        labels.update(s.get("label", "") for s in shapes)
        records.append((path, image_path, height, width, shapes))
    classes = labelme_classes(folder, labels)
    category = {name: k + 1 for k, name in enumerate(classes)}
    images, annotations, left_out = [], [], Counter()
    for image_id, (path, image_path, height, width, shapes) in enumerate(records, start=1):
        # labelme writes imagePath relative to the JSON file, with the annotator's separators
        relative = (path.parent / image_path.replace("\\", "/")).resolve()
        images.append({"id": image_id, "file_name": str(relative), "height": height,
                       "width": width})  # fmt: skip
        groups: dict = defaultdict(list)
        for k, shape in enumerate(shapes):
            kind = shape.get("shape_type") or "polygon"
            if kind not in REGION_SHAPES:
                left_out[f"{kind} shapes (no region)"] += 1
                continue
            label = shape.get("label", "")
            if label not in category:
                raise DatasetError(f"{path} shape {k}: label {label!r} is not in the classes "
                                   f"({', '.join(classes)})")  # fmt: skip
            group = shape.get("group_id")
            groups[(label, k if group is None else f"group {group}")].append((k, shape))
        for (label, _), members in groups.items():
            rles = [shape_rle(s, height, width, f"{path} shape {k}") for k, s in members]
            rle = mask_util.merge(rles) if len(rles) > 1 else rles[0]
            area = float(mask_util.area(rle))
            if area <= 0:
                left_out["shapes of no area"] += 1
                continue
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": category[label], "segmentation": rle,
                                "area": area, "bbox": [float(v) for v in mask_util.toBbox(rle)],
                                "iscrowd": 0})  # fmt: skip
    return {
        "info": {"image_dir": str(folder.resolve()), "source": "labelme",
                 "left_out": dict(left_out)},  # fmt: skip
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k, "name": n, "supercategory": ""} for n, k in category.items()],
    }
