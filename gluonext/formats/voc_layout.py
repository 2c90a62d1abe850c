"""Where a Pascal VOC dataset's XML, images and splits are, in the layouts real tools write.

- **A LabelImg folder**: XML beside the images (or in LabelImg's "Change Save Dir" folder, the
  images in ``image_dir`` or found through ``<folder>`` / ``<path>``), split by lists of stems
  (``train.txt`` / ``test.txt`` from ``tools/split_dataset.py``, or named lists).
- **A VOC year folder** (``VOC2007/``: ``Annotations/``, ``JPEGImages/``,
  ``ImageSets/Main/<split>.txt``): Pascal VOC itself, what GluonCV's ``--dataset voc`` reads,
  and CVAT's and Roboflow's "Pascal VOC" exports. Training reads ``trainval`` (else ``train``,
  else ``default``, CVAT's name for an unsplit task), validation ``test`` (else ``val``).
- **A VOCdevkit folder** holding years: splits named as GluonCV's ``VOCDetection`` names them,
  ``2007_trainval,2012_trainval`` for training (the years present) and ``2007_test`` (a year
  without ``test.txt``, as VOC2012 is downloaded, offers its ``val``).
- **Folder splits**: ``train/`` and ``valid/`` (or ``val/``, ``test/``) with the XML beside the
  images, as Roboflow exports them; or any two folders (``val_root``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gluonext.common.files import finish_publish
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import ScanReport, VOCRecord, read_split, scan_voc_folder

TRAIN_SPLITS = ("trainval", "train", "default")
VAL_SPLITS = ("test", "val", "valid")
VAL_FOLDERS = ("valid", "val", "test")


@dataclass(frozen=True)
class VOCPart:
    """One folder of XML, its image folder (None: found per file) and its stems (None: all)."""

    annotations: Path
    images: Path | None = None
    stems: tuple[str, ...] | None = None
    name: str = ""


def _split_file(year_dir: Path, split: str) -> Path:
    return year_dir / "ImageSets" / "Main" / f"{split}.txt"


def _year_part(year_dir: Path, split: str, image_dir=None) -> VOCPart:
    path = _split_file(year_dir, split)
    if not path.is_file():
        present = sorted(p.stem for p in path.parent.glob("*.txt") if "_" not in p.stem)
        raise DatasetError(f"{path}: split file not found (splits here: {', '.join(present)})")
    images = Path(image_dir) if image_dir is not None else None  # else JPEGImages/, found
    return VOCPart(year_dir / "Annotations", images, tuple(read_split(path)),
                   f"{year_dir.name} {split}")  # fmt: skip


def _first_split(year_dir: Path, names, flag: str) -> str:
    for name in names:
        if _split_file(year_dir, name).is_file():
            return name
    raise DatasetError(
        f"{year_dir / 'ImageSets' / 'Main'}: none of {', '.join(n + '.txt' for n in names)} "
        f"(name one with {flag})"
    )


def _devkit_parts(root: Path, splits: str, image_dir) -> list[VOCPart]:
    parts = []
    for item in splits.split(","):
        year, _, split = item.strip().partition("_")
        if not year.isdigit() or not split:
            raise DatasetError(f"{item!r}: a VOCdevkit split is YEAR_NAME, e.g. 2007_trainval")
        if not (root / f"VOC{year}").is_dir():
            raise DatasetError(f"{root / f'VOC{year}'}: folder not found (split {item})")
        parts.append(_year_part(root / f"VOC{year}", split, image_dir))
    return parts


def voc_parts(
    root, train_list=None, val_list=None, val_root=None, image_dir=None,
    train_splits=None, val_splits=None,
) -> tuple[list[VOCPart], list[VOCPart]]:  # fmt: skip
    """(train parts, val parts) of the dataset at ``root`` in whichever layout it has (see the
    module's docstring); the arguments are the scripts' flags of the same names."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"--data-root {root}: folder not found")
    image = Path(image_dir) if image_dir is not None else None
    if val_root is not None:
        if not Path(val_root).is_dir():
            raise DatasetError(f"--val-root {val_root}: folder not found")
        return [VOCPart(root, image, name="train")], [VOCPart(Path(val_root), image, name="val")]
    years = sorted(p for p in root.glob("VOC[0-9][0-9][0-9][0-9]") if p.is_dir())
    if years and not (root / "Annotations").is_dir():  # a VOCdevkit
        present = {p.name[3:] for p in years}
        default_train = ",".join(f"{y}_trainval" for y in sorted(present & {"2007", "2012"}))
        train = _devkit_parts(root, train_splits or default_train or f"{min(present)}_trainval",
                              image_dir)  # fmt: skip
        if val_splits is None:  # GluonCV's 2007_test; a year without test.txt offers its val
            val_splits = next((f"{y}_{s}" for y in sorted(present) for s in VAL_SPLITS
                               if _split_file(root / f"VOC{y}", s).is_file()),
                              f"{min(present)}_test")  # fmt: skip
        return train, _devkit_parts(root, val_splits, image_dir)
    if (root / "Annotations").is_dir():  # a VOC year folder
        train = [_year_part(root, s, image_dir) for s in (train_splits or _first_split(
            root, TRAIN_SPLITS, "--train-splits")).split(",")]  # fmt: skip
        val = [_year_part(root, s, image_dir) for s in (val_splits or _first_split(
            root, VAL_SPLITS, "--val-splits")).split(",")]  # fmt: skip
        return train, val
    folders = [root / name for name in VAL_FOLDERS if (root / name).is_dir()]
    if (root / "train").is_dir() and folders and train_list is None:  # folder splits
        return [VOCPart(root / "train", image, name="train")], [
            VOCPart(folders[0], image, name=folders[0].name)]  # fmt: skip
    train_file = Path(train_list or root / "train.txt")
    val_file = Path(val_list or root / "test.txt")
    for folder in {train_file.parent, val_file.parent}:  # tools/split_dataset.py's lists
        if folder.is_dir():
            finish_publish(folder, clean=False)  # a split a kill interrupted: rolled forward
    train_names = read_split(train_file)
    val_names = read_split(val_file)
    return [VOCPart(root, image, tuple(train_names), "train")], [
        VOCPart(root, image, tuple(val_names), "val")]  # fmt: skip


def scan_parts(
    parts: list[VOCPart], classes=None, skip_bad: bool = False
) -> tuple[list[VOCRecord], ScanReport]:
    """The records of every part, in each part's stem order (a listed stem without an XML file
    is an error unless ``skip_bad`` left that file out), and one report for them all."""
    records, total = [], ScanReport()
    for part in parts:
        found, report = scan_voc_folder(part.annotations, classes, skip_bad, part.stems,
                                        part.images)  # fmt: skip
        if part.stems is not None:
            by_stem = {r.stem: r for r in found}
            skipped = {Path(f).stem for f, _ in report.skipped_files}
            missing = [s for s in part.stems if s not in by_stem and s not in skipped]
            if missing:
                raise DatasetError(
                    f"{part.annotations}: {part.name or 'split'} names {missing[:3]} "
                    "have no XML file"
                )
            found = [by_stem[s] for s in part.stems if s in by_stem]
        records += found
        total.files += report.files
        total.skipped_files += report.skipped_files
        total.skipped_objects.update(report.skipped_objects)
        total.empty_images += report.empty_images
    return records, total
