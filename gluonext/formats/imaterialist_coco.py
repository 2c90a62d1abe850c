"""iMaterialist ``train.csv`` to COCO instance JSON, one pass, masks never decoded.

Rows are read once and grouped by image as they stream past (the older converter filtered the
whole table for every image: quadratic). Each Kaggle RLE becomes COCO compressed RLE with area
and box computed from the runs. Only the rare rows that need pixels (swapped Height/Width fixed
with ``check_images``, ``resize_val``) are decoded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gluonext.common.faults import set_stage
from gluonext.common.files import (
    atomic_open,
    finish_publish,
    publish_together,
    staging_folder,
    write_json,
)
from gluonext.common.images import image_problem
from gluonext.errors import DatasetError
from gluonext.formats import rle
from gluonext.formats.imaterialist import (
    ATTRIBUTES_COLUMN,
    CSV_COLUMNS,
    load_label_descriptions,
    parse_attribute_ids,
    parse_class_id,
    select_categories,
)

log = logging.getLogger(__name__)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


_CHUNK_ROWS = 512


class ConversionError(DatasetError):
    """The input cannot be converted; the message names the file, row and problem."""


@dataclass
class ConvertOptions:
    """What ``convert`` does; the command-line flags map one to one onto these fields."""

    data_root: Path
    csv_name: str = "train.csv"
    image_dir: str = "train"
    output_dir: Path | None = None  # default: <data_root>/annotations
    val_num: int = 1000
    seed: int = 0
    categories: str = "all"
    workers: int = 1
    on_error: str = "fail"  # or "skip"
    check_images: bool = False
    resize_val: tuple[int, int] | None = None  # (width, height)
    progress: bool = True


@dataclass
class Rejection:
    line: int
    image_id: str
    class_id: str
    reason: str


@dataclass
class ConvertReport:
    """What a conversion produced, for the summary and for tests."""

    outputs: dict[str, Path] = field(default_factory=dict)
    num_rows: int = 0
    images: dict[str, int] = field(default_factory=dict)  # split -> image count
    annotations: dict[str, Counter] = field(default_factory=dict)  # split -> per-category counts
    filtered_rows: int = 0  # rows of categories not selected
    images_without_annotations: int = 0
    fixed_swapped: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    category_names: dict[int, str] = field(default_factory=dict)
    csv_sha256: str = ""  # of the CSV as read


_ROW_CONTEXT: dict = {}


def _init_row_context(known_categories: frozenset, known_attributes: frozenset) -> None:
    _ROW_CONTEXT["categories"] = known_categories
    _ROW_CONTEXT["attributes"] = known_attributes


def _check_fields(fields: list[str]) -> tuple[str, int, list[int], int, int]:
    """Validate a row's cells except the RLE; returns (image_id, category, attrs, h, w). A
    2020 row has a sixth cell, its AttributesIds."""
    image_id, _encoded, height_text, width_text, class_id = fields[:5]
    if not image_id.strip():
        raise ValueError("ImageId is empty")
    try:
        height, width = int(height_text), int(width_text)
    except ValueError:
        raise ValueError(
            f"Height/Width must be whole numbers, got {height_text!r}/{width_text!r}"
        ) from None
    if height <= 0 or width <= 0:
        raise ValueError(f"Height/Width must be positive, got {height}/{width}")
    category, attributes = parse_class_id(class_id)
    if len(fields) > 5:
        attributes += parse_attribute_ids(fields[5])
    if category not in _ROW_CONTEXT["categories"]:
        raise ValueError(f"unknown category id {category} (not in label_descriptions.json)")
    unknown = sorted(set(attributes) - _ROW_CONTEXT["attributes"])
    if unknown:
        raise ValueError(f"unknown attribute ids {unknown} (not in label_descriptions.json)")
    return image_id, category, attributes, height, width


def _convert_chunk(chunk: list) -> list:
    """Rows to ('ok', line, image_id, category, attrs, h, w, counts, area, bbox) or
    ('err', line, image_id, class_id, reason), in input order."""
    results: list = [None] * len(chunk)
    pending = []
    for index, (line, fields) in enumerate(chunk):
        if fields is None:
            results[index] = ("err", line, "", "", "row has the wrong number of fields")
            continue
        try:
            pending.append((index, line, fields[1], _check_fields(fields)))
        except ValueError as exc:
            results[index] = ("err", line, fields[0], fields[4], str(exc))
    converted = rle.kaggle_batch_to_coco(
        [p[2] for p in pending], [p[3][3] for p in pending], [p[3][4] for p in pending]
    )
    for (index, line, _text, meta), outcome in zip(pending, converted, strict=True):
        image_id, category, attributes, height, width = meta
        if isinstance(outcome, rle.RLEError):
            results[index] = ("err", line, image_id, str(category), f"bad EncodedPixels: {outcome}")
        else:
            results[index] = ("ok", line, image_id, category, attributes, height, width, *outcome)
    return results


def _byte_lines(path: Path, bar: tqdm | None, digest) -> Iterator[str]:
    """The CSV's lines as text, each also fed to ``digest`` (its checksum, in the same pass)."""
    with open(path, "rb") as handle:
        encoding = "utf-8-sig"  # tolerate a byte-order mark on the header only
        for raw in handle:
            digest.update(raw)
            if bar is not None:
                bar.update(len(raw))
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ConversionError(f"{path}: not UTF-8 text ({exc.reason})") from None
            encoding = "utf-8"


def _read_rows(path: Path, bar: tqdm | None, digest) -> Iterator[tuple[int, list[str]]]:
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(_byte_lines(path, bar, digest))
    header = next(reader, None)
    if header is None:
        raise ConversionError(
            f"{path}: the file is empty (expected a header {','.join(CSV_COLUMNS)})"
        )
    header = [name.strip().lstrip("\ufeff") for name in header]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise ConversionError(
            f"{path}: missing column(s) {', '.join(missing)}; header is {','.join(header)}"
        )
    columns = CSV_COLUMNS + ((ATTRIBUTES_COLUMN,) if ATTRIBUTES_COLUMN in header else ())
    order = [header.index(name) for name in columns]
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            yield line, None  # malformed row, reported by the caller
            continue
        yield line, [row[i] for i in order]


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def image_file_name(image_id: str) -> str:
    """The file under ``train/`` for a CSV ImageId (with or without its ``.jpg``)."""
    return image_id if image_id.lower().endswith(IMAGE_SUFFIXES) else f"{image_id}.jpg"


def _image_size(path: Path) -> tuple[int, int] | str:
    """(height, width) from the image header, or a reason string when the file is missing,
    unreadable or cut short (its last bytes are checked for the format's end marker)."""
    from PIL import Image

    if not path.is_file():
        return f"image file not found: {path}"
    problem = image_problem(path)
    if problem:
        return f"image file unusable: {path} ({problem})"
    with Image.open(path) as image:
        width, height = image.size
    return height, width


def _rotate_counts(counts_text: str, height: int, width: int) -> tuple[str, int, list[float]]:
    """Fit a mask recorded as HxW to the real WxH image: transpose, then flip left-right."""
    mask = rle.decode(rle.decompress_counts(counts_text), height, width)
    fixed = np.ascontiguousarray(mask.T[:, ::-1])
    counts = rle.encode_mask(fixed)
    return rle.compress_counts(counts), rle.counts_area(counts), rle.counts_bbox(counts, width)


def _resize_counts(counts_text: str, height: int, width: int, size: tuple[int, int]):
    import cv2

    mask = rle.decode(rle.decompress_counts(counts_text), height, width)
    resized = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    counts = rle.encode_mask(resized)
    return rle.compress_counts(counts), rle.counts_area(counts), rle.counts_bbox(counts, size[1])


def convert(options: ConvertOptions) -> ConvertReport:
    """Convert ``<data_root>/train.csv`` into ``instances_train.json`` / ``instances_val.json``."""
    root, csv_path = _check_options(options)
    set_stage("convert")
    out_dir = Path(options.output_dir) if options.output_dir else root / "annotations"
    if out_dir.is_dir() and finish_publish(out_dir):
        log.info("%s: completed the publish an interrupted conversion left", out_dir)
    categories, attributes = load_label_descriptions(root / "label_descriptions.json")
    category_ids = [entry["id"] for entry in categories]
    try:
        selected = set(select_categories(options.categories, category_ids))
    except ValueError as exc:
        raise ConversionError(str(exc)) from None
    report = ConvertReport(category_names={c["id"]: c["name"] for c in categories})
    reject = _Rejecter(csv_path, options.on_error == "skip", report)

    known = (frozenset(category_ids), frozenset(a["id"] for a in attributes))
    images = _read_images(csv_path, known, selected, options, report, reject)
    if options.check_images:
        _check_images(root / options.image_dir, images, report, reject, options)
    splits = _split_to_coco(images, options.seed, options.val_num, report)
    coco_categories = [_coco_category(c) for c in categories if c["id"] in selected]
    info = {
        "description": f"iMaterialist Fashion {csv_edition(csv_path)} converted to COCO "
        "instances by gluonext",
        "source": str(csv_path),
        "categories": options.categories,
        "seed": options.seed,
        "image_dir": options.image_dir,
        "conversion": conversion_record(report.csv_sha256, options),
    }
    _write_outputs(out_dir, splits, info, coco_categories, attributes, options, report)
    return report


def csv_edition(path: Path) -> str:
    """"2020" for a CSV with the AttributesIds column (FGVC7), else "2019" (FGVC6)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    return "2020" if ATTRIBUTES_COLUMN in [name.strip() for name in header] else "2019"


def _check_options(options: ConvertOptions) -> tuple[Path, Path]:
    """The data root and its CSV, after checking the options a user can get wrong."""
    if options.on_error not in ("fail", "skip"):
        raise ConversionError(f"--on-error must be 'fail' or 'skip', got {options.on_error!r}")
    if options.val_num < 0:
        raise ConversionError(f"--val-num must be >= 0, got {options.val_num}")
    root = Path(options.data_root)
    csv_path = root / options.csv_name
    if not csv_path.is_file():
        raise ConversionError(f"{csv_path}: file not found (--data-root should hold train.csv)")
    return root, csv_path


class _Rejecter:
    """A bad row: an error naming the CSV line (``--on-error fail``), or one more entry of
    ``report.rejected`` (``skip``)."""

    def __init__(self, csv_path: Path, skip: bool, report: ConvertReport):
        self.csv_path, self.skip, self.report = csv_path, skip, report

    def __call__(self, line: int, image_id: str, class_id: str, reason: str) -> None:
        if not self.skip:
            where = f"{self.csv_path} line {line}" + (f" (ImageId {image_id})" if image_id else "")
            raise ConversionError(f"{where}: {reason}. Use --on-error skip to skip such rows.")
        self.report.rejected.append(Rejection(line, image_id, class_id, reason))


def _read_images(csv_path, known, selected, options, report, reject) -> dict[str, dict]:
    """Stream the rows once, converting each RLE (in worker processes with ``--workers``),
    grouped by image: ``{ImageId: {height, width, line, anns}}``."""
    images: dict[str, dict] = {}
    bar = tqdm(
        total=csv_path.stat().st_size,
        unit="B",
        unit_scale=True,
        desc="rows",
        disable=not options.progress,
    )
    digest = hashlib.sha256()
    chunks = _chunks(_read_rows(csv_path, bar, digest), _CHUNK_ROWS)
    pool = None
    if options.workers > 1:
        pool = multiprocessing.get_context("fork").Pool(
            options.workers, initializer=_init_row_context, initargs=known
        )
        results = pool.imap(_convert_chunk, chunks)
    else:
        _init_row_context(*known)
        results = map(_convert_chunk, chunks)
    try:
        for chunk in results:
            for item in chunk:
                report.num_rows += 1
                if item[0] == "err":
                    reject(*item[1:])
                    continue
                _add_row(images, item[1:], selected, report, reject)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    report.csv_sha256 = digest.hexdigest()
    if report.num_rows == 0:
        raise ConversionError(f"{csv_path}: no data rows after the header")
    return images


def _add_row(images: dict, row: tuple, selected: set, report: ConvertReport, reject) -> None:
    """One converted row into its image; a size that contradicts the image's first row is
    rejected, a category outside ``--categories`` counted and left out."""
    line, image_id, category, attrs, height, width, counts, area, bbox = row
    image = images.setdefault(
        image_id, {"height": height, "width": width, "line": line, "anns": []}
    )
    if (image["height"], image["width"]) != (height, width):
        reject(
            line,
            image_id,
            str(category),
            f"Height/Width {height}/{width} differ from {image['height']}/"
            f"{image['width']} on line {image['line']} for the same image",
        )
    elif category not in selected:
        report.filtered_rows += 1
    else:
        image["anns"].append((line, category, attrs, counts, area, bbox))


def _split_to_coco(images: dict, seed: int, val_num: int, report: ConvertReport) -> dict:
    """Image ids 1.. in sorted ImageId order, a seeded split by image, and the COCO image and
    annotation records of each split (annotation ids from 1)."""
    names = sorted(images)
    image_ids = {name: index + 1 for index, name in enumerate(names)}
    order = np.random.RandomState(seed).permutation(len(names))
    val_names = {names[i] for i in order[: min(val_num, len(names))]}
    splits = {"train": ([], []), "val": ([], [])}
    next_ann_id = 1
    for name in names:
        image = images[name]
        split_images, split_anns = splits["val" if name in val_names else "train"]
        size = {"height": image["height"], "width": image["width"]}
        split_images.append({"id": image_ids[name], "file_name": image_file_name(name), **size})
        if not image["anns"]:
            report.images_without_annotations += 1
        for _line, category, attrs, counts, area, bbox in image["anns"]:
            split_anns.append(
                {
                    "id": next_ann_id,
                    "image_id": image_ids[name],
                    "category_id": category,
                    "segmentation": {"size": [image["height"], image["width"]], "counts": counts},
                    "area": area,
                    "bbox": bbox,
                    "iscrowd": 0,
                    "attribute_ids": attrs,
                }
            )
            next_ann_id += 1
    return splits


def _coco_category(entry: dict) -> dict:
    return {
        "id": entry["id"],
        "name": entry["name"],
        "supercategory": entry.get("supercategory", ""),
        **({"level": entry["level"]} if "level" in entry else {}),
    }


def _write_outputs(out_dir, splits, info, coco_categories, attributes, options, report) -> None:
    """Train and val JSON, the resized val JSON and the rejected rows, published together
    (``publish_together``): a kill at any moment leaves the previous set or this one. A
    rejected-rows list or resized val file of an earlier run that this one does not write
    is removed with the same step."""
    staging = staging_folder(out_dir)
    try:
        _stage_outputs(staging, splits, info, coco_categories, attributes, options, report)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # an error or Ctrl-C: the old set stays
        raise
    for key, staged in list(report.outputs.items()):
        report.outputs[key] = out_dir / staged.name
    new = {p.name for p in staging.iterdir()}
    stale = [p.name for p in out_dir.glob("instances_val_*x*.json")] + ["rejected_rows.csv"]
    publish_together(out_dir, staging, [name for name in stale if name not in new])


def _stage_outputs(staging, splits, info, coco_categories, attributes, options, report) -> None:
    for split, (split_images, split_anns) in splits.items():
        path = staging / f"instances_{split}.json"
        write_json(
            path,
            {
                "info": {**info, "split": split},
                "licenses": [],
                "images": split_images,
                "annotations": split_anns,
                "categories": coco_categories,
                "attributes": attributes,
            },
        )
        report.outputs[split] = path
        report.images[split] = len(split_images)
        report.annotations[split] = Counter(a["category_id"] for a in split_anns)
    if options.resize_val:
        report.outputs["val_resized"] = _write_resized_val(
            staging, splits["val"], options.resize_val, info, coco_categories, attributes
        )
    if report.rejected:
        report.outputs["rejected"] = _write_rejected(staging / "rejected_rows.csv", report.rejected)


def conversion_record(csv_sha256: str, options: ConvertOptions) -> dict:
    """What identifies a conversion: the CSV's checksum (taken while its rows were read) and
    the options that shape the split. Both JSON files carry it; the training scripts refuse a
    pair whose ids differ."""
    record = {
        "csv_sha256": csv_sha256,
        "seed": options.seed,
        "val_num": options.val_num,
        "categories": options.categories,
        "check_images": options.check_images,
    }
    record["id"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    return record


def _check_images(image_root: Path, images: dict, report: ConvertReport, reject, options) -> None:
    names = sorted(images)
    paths = [image_root / image_file_name(name) for name in names]
    if options.workers > 1:
        with multiprocessing.get_context("fork").Pool(options.workers) as pool:
            sizes = pool.map(_image_size, paths, chunksize=64)
    else:
        sizes = [
            _image_size(path)
            for path in tqdm(paths, desc="image headers", disable=not options.progress)
        ]
    for name, size in zip(names, sizes, strict=True):
        image = images[name]
        csv_size = (image["height"], image["width"])
        if isinstance(size, str) or (size != csv_size and size != csv_size[::-1]):
            reason = (
                size
                if isinstance(size, str)
                else (f"image is {size[0]}x{size[1]} but the CSV says {csv_size[0]}x{csv_size[1]}")
            )
            lines = [ann[0] for ann in image["anns"]] or [image["line"]]
            for line, ann in zip(lines, image["anns"] or [None], strict=True):
                reject(line, name, str(ann[1]) if ann else "", reason)
            del images[name]
            continue
        if size == csv_size:
            continue
        # Height and Width swapped in the CSV: turn each mask to fit the real image.
        height, width = csv_size
        fixed = []
        for line, category, attrs, counts, _area, _bbox in image["anns"]:
            fixed.append((line, category, attrs, *_rotate_counts(counts, height, width)))
        image.update(height=width, width=height, anns=fixed)
        report.fixed_swapped += 1


def _write_resized_val(out_dir, val_split, size, info, categories, attributes) -> Path:
    width, height = size
    val_images, val_anns = val_split
    by_id = {image["id"]: image for image in val_images}
    annotations = []
    for ann in tqdm(val_anns, desc=f"resize val to {width}x{height}", disable=len(val_anns) < 1000):
        source = by_id[ann["image_id"]]
        counts, area, bbox = _resize_counts(
            ann["segmentation"]["counts"], source["height"], source["width"], (width, height)
        )
        annotations.append(
            {
                **ann,
                "segmentation": {"size": [height, width], "counts": counts},
                "area": area,
                "bbox": bbox,
            }
        )
    images = [
        {
            **image,
            "height": height,
            "width": width,
            "orig_height": image["height"],
            "orig_width": image["width"],
        }
        for image in val_images
    ]
    path = out_dir / f"instances_val_{width}x{height}.json"
    write_json(
        path,
        {
            "info": {**info, "split": "val", "resized_to": [width, height]},
            "licenses": [],
            "images": images,
            "annotations": annotations,
            "categories": categories,
            "attributes": attributes,
        },
    )
    return path


def _write_rejected(path: Path, rejected: list[Rejection]) -> Path:
    with atomic_open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "ImageId", "ClassId", "reason"])
        for item in rejected:
            writer.writerow([item.line, item.image_id, item.class_id, item.reason])
    return path


def format_summary(report: ConvertReport) -> str:
    """A human-readable table of images, annotations per category and skips."""
    lines = [f"rows read: {report.num_rows}"]
    for split in ("train", "val"):
        if split in report.images:
            total = sum(report.annotations[split].values())
            lines.append(f"{split:>5}: {report.images[split]} images, {total} annotations")
    counted = sorted(set().union(*report.annotations.values())) if report.annotations else []
    if counted:
        lines.append(f"{'id':>4}  {'category':<40} {'train':>8} {'val':>8}")
        for cid in counted:
            lines.append(
                f"{cid:>4}  {report.category_names.get(cid, '?')[:40]:<40} "
                f"{report.annotations['train'][cid]:>8} {report.annotations['val'][cid]:>8}"
            )
    if report.filtered_rows:
        lines.append(f"rows of unselected categories left out: {report.filtered_rows}")
    if report.images_without_annotations:
        lines.append(f"images kept with no annotation: {report.images_without_annotations}")
    if report.fixed_swapped:
        lines.append(
            f"images with Height/Width swapped in the CSV, masks fixed: {report.fixed_swapped}"
        )
    if report.rejected:
        reasons = Counter(r.reason.split(":")[0].split(" (")[0] for r in report.rejected)
        lines.append(
            f"rows skipped: {len(report.rejected)} (listed in {report.outputs.get('rejected')})"
        )
        for reason, count in reasons.most_common():
            lines.append(f"  {count:>6}  {reason}")
    for name, path in report.outputs.items():
        lines.append(f"wrote {name}: {os.fspath(path)}")
    return "\n".join(lines)
