"""LabelImg (Pascal VOC) XML: a folder of Pascal VOC XML files and their images.

Every ``*.xml`` under the folder is one image. The image is looked for, in order, in the image
folder given (``image_dir``), beside the XML, in the folder the XML's ``<folder>`` names next
to the XML's own folder (LabelImg's "Change Save Dir": ``annotations/`` beside ``samples/``) and
in a VOC ``JPEGImages/`` beside it, under ``<filename>`` and the last part of ``<path>`` (which
LabelImg writes as the annotator's absolute path, often a Windows one), the letter case of the
name ignored (``IMG_001.JPG`` on disk for ``IMG_001.jpg``); then the XML's own stem with any
image suffix. Where the splits and folders of a whole dataset are: ``voc_layout``. Classes come
from a list or are discovered from the XML. Bad input (unreadable XML, missing fields, boxes
outside the image or of zero area, unknown classes, missing images) stops with the file named,
or with ``skip_bad`` is left out and counted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gluonext.common.images import IMAGE_SUFFIXES, image_problem
from gluonext.errors import DatasetError

VOC_CLASSES = ("Pants_Leggings", "Dresses", "Skirts", "Tops", "Shorts", "Lingerie")


@dataclass
class VOCObject:
    name: str
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax as written (1-based)
    difficult: int = 0


@dataclass
class VOCRecord:
    xml: Path
    image: Path
    width: int
    height: int
    objects: list[VOCObject] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return self.xml.stem


def _text(node, tag: str, where: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DatasetError(f"{where}: missing <{tag}>")
    return child.text.strip()


def _number(node, tag: str, where: str) -> float:
    text = _text(node, tag, where)
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: <{tag}> is {text!r}, not a number") from None


class ImageFinder:
    """Finds the image of a VOC XML file (see the module's docstring for where it looks);
    each folder is listed once."""

    def __init__(self, image_dir=None):
        self.image_dir = Path(image_dir) if image_dir is not None else None
        self._listings: dict[Path, dict[str, list[Path]]] = {}

    def _listing(self, folder: Path) -> dict[str, list[Path]]:
        if folder not in self._listings:
            names: dict[str, list[Path]] = {}
            if folder.is_dir():
                for entry in sorted(folder.iterdir()):
                    if entry.is_file():
                        names.setdefault(entry.name.lower(), []).append(entry)
            self._listings[folder] = names
        return self._listings[folder]

    def folders(self, xml: Path, folder_tag: str | None) -> list[Path]:
        folders = [self.image_dir] if self.image_dir is not None else []
        folders.append(xml.parent)
        if folder_tag:
            folders.append(xml.parent.parent / folder_tag)
        folders.append(xml.parent.parent / "JPEGImages")
        return list(dict.fromkeys(folders))

    def find(self, xml: Path, filename: str, folder_tag=None, recorded_path=None) -> Path | None:
        """The image of ``xml`` or None."""
        names = [filename]
        if recorded_path:
            names.append(re.split(r"[\\/]", recorded_path.strip())[-1])
        names += [xml.stem + suffix for suffix in sorted(IMAGE_SUFFIXES)]
        folders = self.folders(xml, folder_tag)
        for name in dict.fromkeys(n for n in names if n):
            for folder in folders:
                found = self._listing(folder).get(name.lower(), [])
                exact = [f for f in found if f.name == name]
                if exact or found:
                    return (exact or found)[0]
        return None


def _optional_text(node, tag: str) -> str | None:
    child = node.find(tag)
    return child.text.strip() if child is not None and child.text and child.text.strip() else None


def parse_labelimg_xml(
    path: Path, finder: ImageFinder | None = None
) -> tuple[VOCRecord, list[tuple[int, str]]]:
    """One LabelImg XML file: the record (all objects as written) and, per object index, what
    is wrong with it (boxes outside the image or of zero area). File-level problems (not XML,
    no filename or size, image missing) raise ``DatasetError`` naming the file."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise DatasetError(f"{path}: not readable XML ({exc})") from None
    where = str(path)
    filename = _text(root, "filename", where)
    size = root.find("size")
    if size is None:
        raise DatasetError(f"{where}: missing <size>")
    width, height = int(_number(size, "width", where)), int(_number(size, "height", where))
    if width <= 0 or height <= 0:
        raise DatasetError(f"{where}: image size {width}x{height} is not positive")
    finder = finder or ImageFinder()
    folder_tag = _optional_text(root, "folder")
    image = finder.find(path, filename, folder_tag, _optional_text(root, "path"))
    if image is None:
        looked = ", ".join(str(f) for f in finder.folders(path, folder_tag) if f.is_dir())
        raise DatasetError(
            f"{where}: image {filename} not found (looked in {looked}; --image-dir names "
            "the image folder)"
        )
    problem = image_problem(image, (height, width))
    if problem:
        raise DatasetError(f"{where}: its image {image.name}: {problem}")
    record, problems = VOCRecord(path, image, width, height), []
    for k, obj in enumerate(root.findall("object")):
        spot = f"{where} object {k}"
        try:
            name = _text(obj, "name", spot)
            box_node = obj.find("bndbox")
            if box_node is None:
                raise DatasetError(f"{spot}: missing <bndbox>")
            box = tuple(_number(box_node, t, spot) for t in ("xmin", "ymin", "xmax", "ymax"))
            difficult = obj.find("difficult")
            hard = int(difficult.text) if difficult is not None and difficult.text else 0
        except (DatasetError, ValueError) as exc:
            record.objects.append(VOCObject("", (0, 0, 0, 0)))
            problems.append((k, str(exc).split(": ", 1)[-1]))
            continue
        record.objects.append(VOCObject(name, box, hard))
        x1, y1, x2, y2 = box
        if x2 <= x1 or y2 <= y1:
            problems.append((k, f"box {box} has zero area"))
        elif x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            problems.append((k, f"box {box} is outside the {width}x{height} image"))
    return record, problems


@dataclass
class ScanReport:
    """What was left out of a folder, with reasons."""

    files: int = 0
    skipped_files: list = field(default_factory=list)  # (file, reason)
    skipped_objects: Counter = field(default_factory=Counter)  # reason kind -> count
    empty_images: int = 0

    def summary(self) -> str:
        parts = [f"{self.files} XML files"]
        if self.skipped_files:
            parts.append(f"{len(self.skipped_files)} files skipped")
        for reason, count in sorted(self.skipped_objects.items()):
            parts.append(f"{count} objects skipped ({reason})")
        if self.empty_images:
            parts.append(f"{self.empty_images} images without objects")
        return ", ".join(parts)


def _kind(reason: str) -> str:
    for kind in ("zero area", "outside", "unknown class", "missing", "not a number"):
        if kind in reason:
            return kind
    return "other"


def scan_voc_folder(
    folder, classes: list[str] | None = None, skip_bad: bool = False, stems=None, image_dir=None
) -> tuple[list[VOCRecord], ScanReport]:
    """Every ``*.xml`` under ``folder`` (sorted; only those named ``stems`` when given), its
    image found as the module says (``image_dir`` first); bad objects and files raise, or with
    ``skip_bad`` are dropped and counted. Objects of classes outside ``classes`` are bad."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    if image_dir is not None and not Path(image_dir).is_dir():
        raise DatasetError(f"--image-dir {image_dir}: folder not found")
    report, records, finder = ScanReport(), [], ImageFinder(image_dir)
    known = set(classes) if classes is not None else None
    wanted = set(stems) if stems is not None else None
    for path in sorted(folder.rglob("*.xml")):
        if wanted is not None and path.stem not in wanted:
            continue
        report.files += 1
        try:
            record, problems = parse_labelimg_xml(path, finder)
        except DatasetError as exc:
            if not skip_bad:
                raise DatasetError(f"{exc} (--skip-bad leaves such files out)") from None
            report.skipped_files.append((str(path), str(exc)))
            continue
        if known is not None:
            problems += [
                (k, f"unknown class {obj.name!r}")
                for k, obj in enumerate(record.objects)
                if obj.name and obj.name not in known
            ]
        if problems and not skip_bad:
            k, reason = problems[0]
            raise DatasetError(f"{path} object {k}: {reason} (--skip-bad leaves it out)")
        bad = {k for k, _ in problems}
        for _, reason in problems:
            report.skipped_objects[_kind(reason)] += 1
        record.objects = [o for k, o in enumerate(record.objects) if k not in bad]
        if not record.objects:
            report.empty_images += 1
        records.append(record)
    if not records:
        raise DatasetError(f"{folder}: no LabelImg XML files")
    return records, report


def class_counts(records: list[VOCRecord]) -> Counter:
    return Counter(obj.name for record in records for obj in record.objects)


def read_class_list(path) -> list[str] | None:
    """Class names one per line (``--classes FILE``); None when no file is given."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--classes {path}: file not found")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise DatasetError(f"--classes {path}: a class is listed twice")
    return names


def read_split(path) -> list[str]:
    """Image stems listed one per line (``tools/split_dataset.py``'s train.txt / test.txt, a
    VOC ``ImageSets/Main/<split>.txt``); a line's first word is the stem."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found (make it with tools/split_dataset.py)")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip()]
