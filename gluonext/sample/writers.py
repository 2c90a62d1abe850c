"""Sample datasets in each real on-disk format, drawn by :mod:`gluonext.sample.render`.

Every writer takes (output folder, number of images, seed, image size, stream) and returns the
list of files it wrote. Same seed, same files: each image has its own generator, keyed by
(seed, index) in the default stream 0 and by (seed, index, stream) in any other. Streams never
share a picture: pretraining pictures come from their own stream, so no dataset made with the
default one contains them. Each writer also records where every picture came from in
``sample_scenes.csv`` (file, seed, stream, index), which the readers ignore.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from gluonext.common.files import atomic_open, write_json
from gluonext.formats import rle
from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS
from gluonext.formats.imaterialist import (
    ATTRIBUTES_COLUMN,
    CSV_COLUMNS,
    format_class_id,
    label_descriptions,
)
from gluonext.sample import render

FASHIONAI_CATEGORIES = ("blouse", "outwear", "dress", "skirt", "trousers")


DEFAULT_SIZES = {
    "imaterialist": (240, 320),
    "imaterialist2020": (240, 320),
    "clothing13": (192, 256),
    "voc": (320, 320),
    "fashionai": (256, 256),
}


SCENES_FILE = "sample_scenes.csv"


def scene_key(seed: int, index: int, stream: int = 0) -> tuple[int, ...]:
    """The key of picture ``index``'s generator: (seed, index), or (seed, index, stream)."""
    if stream < 0:
        raise ValueError(f"stream {stream}: must be 0 or more")
    seed &= 0xFFFFFFFF
    return (seed, index) if stream == 0 else (seed, index, stream)


def _rng(seed: int, index: int, stream: int) -> np.random.RandomState:
    return np.random.RandomState(list(scene_key(seed, index, stream)))


def _write_scenes(out: Path, files: list[str], seed: int, stream: int) -> Path:
    """``sample_scenes.csv``: each picture's file (relative to ``out``) and generator key."""
    path = out / SCENES_FILE
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "seed", "stream", "index"])
        writer.writerows((name, seed, stream, index) for index, name in enumerate(files))
    return path


def read_scenes(root: Path) -> dict[str, tuple[int, ...]]:
    """file (relative to ``root``) -> generator key, from ``root``'s ``sample_scenes.csv``."""
    with open(Path(root) / SCENES_FILE, newline="", encoding="utf-8") as handle:
        return {
            row["file"]: scene_key(int(row["seed"]), int(row["index"]), int(row["stream"]))
            for row in csv.DictReader(handle)
        }


def _save_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise OSError(f"could not write {path}")


def _hex_name(rng: np.random.RandomState) -> str:
    return "".join(f"{b:02x}" for b in rng.randint(0, 256, size=16))


def _progress(n: int, desc: str, show: bool):
    return tqdm(range(n), desc=desc, unit="img", disable=not show)


def write_imaterialist(
    out: Path, num_images: int, seed: int, size: tuple[int, int], progress: bool = True,
    stream: int = 0, edition: int = 2019,
) -> list[Path]:
    """``train/*.jpg``, ``train.csv`` and ``label_descriptions.json`` as in the competition:
    2019 (FGVC6: ``ClassId`` = ``<category>_<attr>_...``, ImageIds with ``.jpg``) or 2020
    (FGVC7: ``ClassId`` the category alone, an ``AttributesIds`` column ``115,136``, ImageIds
    without the suffix, 294 attributes).

    Image sizes vary around ``size`` (the real photos vary); rows are sorted by ImageId.
    """
    if edition not in (2019, 2020):
        raise ValueError(f"edition {edition}: 2019 or 2020")
    rows, files = [], []
    attribute_ids = [a["id"] for a in label_descriptions_2020()["attributes"]]
    for index in _progress(num_images, "imaterialist", progress):
        rng = _rng(seed, index, stream)
        scale = rng.uniform(0.8, 1.2)
        width, height = int(size[0] * scale * rng.uniform(0.85, 1.15)), int(size[1] * scale)
        scene = render.render_scene(rng, (width, height), "imaterialist")
        name = _hex_name(rng)
        _save_jpeg(out / "train" / f"{name}.jpg", scene.image)
        files.append(f"train/{name}.jpg")
        for instance in scene.instances:
            if instance.category is None:
                continue
            row = [f"{name}.jpg", rle.mask_to_kaggle(instance.mask), height, width]
            if edition == 2019:
                row.append(format_class_id(instance.category, instance.attributes))
            else:  # the drawn attribute k is the k-th of the 2020 list
                row[0] = name
                row += [instance.category, ",".join(str(attribute_ids[k])
                                                    for k in instance.attributes)]  # fmt: skip
            rows.append(tuple(row))
    rows.sort(key=lambda row: row[0])
    columns = CSV_COLUMNS if edition == 2019 else (*CSV_COLUMNS, ATTRIBUTES_COLUMN)
    with atomic_open(out / "train.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    descriptions = label_descriptions() if edition == 2019 else label_descriptions_2020()
    write_json(out / "label_descriptions.json", descriptions, indent=2)
    scenes = _write_scenes(out, files, seed, stream)
    return [out / "train.csv", out / "label_descriptions.json", out / "train", scenes]


def write_imaterialist_2020(
    out: Path, num_images: int, seed: int, size: tuple[int, int], progress: bool = True,
    stream: int = 0,
) -> list[Path]:
    """The iMaterialist-Fashion-2020 layout (see :func:`write_imaterialist`)."""
    return write_imaterialist(out, num_images, seed, size, progress, stream, edition=2020)


def label_descriptions_2020() -> dict:
    """A ``label_descriptions.json`` in the 2020 layout: the same 46 categories and 294
    attributes whose ids run from 0 to 340 with gaps, as the competition's do. The attribute
    names are placeholders (the first 92 take the 2019 names); the converter copies whatever
    the file it reads says."""
    import random

    ids = sorted(random.Random(2020).sample(range(341), 294))
    names = [entry["name"] for entry in label_descriptions()["attributes"]]
    payload = label_descriptions()
    about = "iMaterialist-Fashion-2020 (FGVC7) layout, sample data"
    payload["info"] = {**payload["info"], "year": 2020, "description": about}
    payload["attributes"] = [
        {"id": i, "name": names[k] if k < len(names) else f"attribute {i}",
         "supercategory": "nickname" if k < len(names) else "other", "level": 1}
        for k, i in enumerate(ids)
    ]  # fmt: skip
    return payload


def clothing13_mask(scene: render.Scene, ignore_border: bool = True) -> np.ndarray:
    """The clothing13 index mask of a scene; a 1-pixel band between classes is 255 (ignore)."""
    height, width = scene.image.shape[:2]
    label = np.zeros((height, width), dtype=np.uint8)
    for instance in scene.instances:  # instances are in drawing order, parts after garments
        if instance.parent is None and instance.kind in render.CLOTHING13_KIND_CLASS:
            label[instance.mask] = render.CLOTHING13_KIND_CLASS[instance.kind]
    if ignore_border:
        grown = cv2.dilate(label, np.ones((3, 3), np.uint8))
        shrunk = cv2.erode(label, np.ones((3, 3), np.uint8))
        label[grown != shrunk] = 255
    return label


def write_clothing13(
    out: Path, num_images: int, seed: int, size: tuple[int, int], progress: bool = True,
    stream: int = 0,
) -> list[Path]:
    """``<id>.jpg`` photos and ``<id>.png`` single-channel index masks, paired by stem."""
    from PIL import Image

    written = []
    for index in _progress(num_images, "clothing13", progress):
        scene = render.render_scene(_rng(seed, index, stream), size, "clothing13")
        stem = f"{index:04d}"
        _save_jpeg(out / f"{stem}.jpg", scene.image)
        Image.fromarray(clothing13_mask(scene), mode="L").save(out / f"{stem}.png")
        written += [out / f"{stem}.jpg", out / f"{stem}.png"]
    images = [path.name for path in written[0::2]]
    return [*written, _write_scenes(out, images, seed, stream)]


def voc_objects(
    scene: render.Scene, min_side: int = 4
) -> list[tuple[str, tuple[int, int, int, int]]]:
    """(class, (xmin, ymin, xmax, ymax)) of each apparel instance, 1-based inclusive pixels."""
    objects = []
    for instance in scene.instances:
        name = render.VOC_KIND_CLASS.get(instance.kind)
        if name is None or instance.parent is not None:
            continue
        ys, xs = np.nonzero(instance.mask)
        if xs.size == 0 or xs.ptp() + 1 < min_side or ys.ptp() + 1 < min_side:
            continue
        objects.append(
            (name, (int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1))
        )
    return objects


def _labelimg_xml(filename: str, size: tuple[int, int], objects) -> bytes:
    width, height = size
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "apparel"
    ET.SubElement(root, "filename").text = filename
    ET.SubElement(root, "path").text = f"C:\\Users\\labeler\\apparel\\{filename}"
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "Unknown"
    size_el = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for name, (x0, y0, x1, y1) in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", x0), ("ymin", y0), ("xmax", x1), ("ymax", y1)):
            ET.SubElement(box, tag).text = str(value)
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="utf-8")


def write_voc(
    out: Path, num_images: int, seed: int, size: tuple[int, int], progress: bool = True,
    stream: int = 0,
) -> list[Path]:
    """LabelImg output: ``<name>.jpg`` with a Pascal VOC ``<name>.xml`` beside it."""
    written = []
    for index in _progress(num_images, "voc", progress):
        scene = render.render_scene(_rng(seed, index, stream), size, "voc")
        name = f"apparel_{index:05d}"
        _save_jpeg(out / f"{name}.jpg", scene.image)
        with atomic_open(out / f"{name}.xml", "wb") as handle:
            handle.write(_labelimg_xml(f"{name}.jpg", size, voc_objects(scene)))
        written += [out / f"{name}.jpg", out / f"{name}.xml"]
    images = [path.name for path in written[0::2]]
    return [*written, _write_scenes(out, images, seed, stream)]


def fashionai_row(image_id: str, scene: render.Scene) -> list[str]:
    """One 26-column FashionAI row: ``x_y_v`` cells, ``-1_-1_-1`` for absent keypoints."""
    cells = []
    for name in FASHIONAI_KEYPOINTS:
        if name in scene.keypoints and scene.keypoints[name][2] >= 0:
            x, y, v = scene.keypoints[name]
            cells.append(f"{int(round(x))}_{int(round(y))}_{v}")
        else:
            cells.append("-1_-1_-1")
    return [image_id, scene.fashionai_category, *cells]


def write_fashionai(
    out: Path, num_images: int, seed: int, size: tuple[int, int], progress: bool = True,
    stream: int = 0,
) -> list[Path]:
    """``Images/<category>/<name>.jpg`` and ``Annotations/train.csv`` (26 columns)."""
    rows = []
    for index in _progress(num_images, "fashionai", progress):
        rng = _rng(seed, index, stream)
        category = FASHIONAI_CATEGORIES[rng.randint(len(FASHIONAI_CATEGORIES))]
        scene = render.render_scene(rng, size, "fashionai", category)
        image_id = f"Images/{category}/{_hex_name(rng)}.jpg"
        _save_jpeg(out / image_id, scene.image)
        rows.append(fashionai_row(image_id, scene))
    path = out / "Annotations" / "train.csv"
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "image_category", *FASHIONAI_KEYPOINTS])
        writer.writerows(rows)
    scenes = _write_scenes(out, [row[0] for row in rows], seed, stream)
    return [path, out / "Images", scenes]


WRITERS: dict[str, Callable[..., list[Path]]] = {
    "imaterialist": write_imaterialist,
    "imaterialist2020": write_imaterialist_2020,
    "clothing13": write_clothing13,
    "voc": write_voc,
    "fashionai": write_fashionai,
}
