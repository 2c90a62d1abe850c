"""Pascal VOC datasets in the layouts real tools write, their XML written by LabelImg's own
writer: LabelImg with a separate save folder (Windows paths, upper-case suffixes on disk), a
VOC year folder and a VOCdevkit (Pascal VOC, CVAT's and Roboflow's "Pascal VOC" exports) and
Roboflow's train / valid / test folders. Each is read, flattened by ``voc_to_csv``, split by
``split_dataset`` where it has no splits, trains one epoch, predicts and is inspected without
renaming a file."""

import csv
import json
import shutil

import inspect_dataset
import predict_detection
import pytest
import split_dataset
import voc_to_csv
from helpers.producers import labelimg_save

import train_detection as td
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import read_split, scan_voc_folder
from gluonext.formats.voc_layout import scan_parts, voc_parts
from gluonext.sample.writers import write_voc


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """8 generated apparel photos (96 x 96): (jpg path, [(name, box, difficult), ...])."""
    root = tmp_path_factory.mktemp("photos")
    write_voc(root, 8, seed=11, size=(96, 96), progress=False)
    records, _ = scan_voc_folder(root)
    return [(r.image, [(o.name, o.box, o.difficult) for o in r.objects]) for r in records]


def train_predict_inspect(tmp_path, photos, images, *data_flags):
    """One SSD epoch on a layout, the trained model's predictions on ``photos`` (a folder, as
    the layout has it: all 8 photos are predicted) and the inspector with the same flags."""
    save_dir = tmp_path / "run"
    argv = ["--model", "ssd", "--network", "mobilenet0.25", "--data-shape", "300",
            "--dataset", "voc", *data_flags, "--batch-size", "4", "--epochs", "1",
            "--lr", "0.01", "--ctx", "cpu", "--workers", "0", "--save-dir", str(save_dir),
            "--no-progress"]  # fmt: skip
    assert td.main(td.parse_args(argv)) == 0
    records = [json.loads(x) for x in (save_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1] and "voc07_mAP" in records[0]
    out = tmp_path / "predicted"
    argv = ["--checkpoint", str(save_dir / "checkpoint_last.ckpt"), "--input", str(photos),
            "--output", str(out), "--no-progress"]  # fmt: skip
    assert predict_detection.main(predict_detection.parse_args(argv)) == 0
    predicted = json.loads((out / "detections.json").read_text())["images"]
    assert len(predicted) == images
    inspected = tmp_path / "inspected"
    argv = ["--dataset", "voc", *data_flags, "--output", str(inspected)]
    assert inspect_dataset.main(inspect_dataset.parse_args(argv)) == 0
    problems = json.loads((inspected / "problems.json").read_text())
    unread = [p for p in problems if p["kind"] in ("image", "left out by the dataset reader")]
    assert unread == [] and (inspected / "contact_sheet.jpg").is_file()


def csv_images(path):
    with open(path, newline="") as handle:
        return sorted({row["filename"] for row in csv.DictReader(handle)})


@pytest.fixture
def labelimg_save_dir(photos, tmp_path):
    """LabelImg's "Open Dir" on ``samples/`` and "Change Save Dir" to ``annotations/``, saved on
    a Windows machine; half the photos carry an upper-case ``.JPG`` on disk."""
    project = tmp_path / "apparel"
    for k, (image, objects) in enumerate(photos):
        name = f"IMG_{k:03d}"
        on_disk = project / "samples" / (name + (".JPG" if k % 2 else ".jpg"))
        on_disk.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, on_disk)
        windows_path = f"C:\\Users\\ann\\Desktop\\apparel\\samples\\{name}.jpg"
        labelimg_save(windows_path, (96, 96), objects, project / "annotations" / f"{name}.xml")
    return project


def test_labelimg_with_a_save_folder_is_read_flattened_split_and_trained(
    labelimg_save_dir, photos, tmp_path
):
    annotations = labelimg_save_dir / "annotations"
    records, _ = scan_voc_folder(annotations)
    assert [r.image.relative_to(labelimg_save_dir).as_posix() for r in records] == [
        f"samples/IMG_{k:03d}.{'JPG' if k % 2 else 'jpg'}" for k in range(len(photos))
    ]
    assert [[(o.name, o.box) for o in r.objects] for r in records] == [
        [(n, b) for n, b, _ in objects] for _, objects in photos
    ]
    out = tmp_path / "labels.csv"
    assert voc_to_csv.main(voc_to_csv.parse_args(["--input", str(annotations),
                                                   "--output", str(out)])) == 0  # fmt: skip
    assert csv_images(out) == sorted(r.image.name for r in records)
    args = split_dataset.parse_args(["--input", str(annotations), "--ratio", "0.75"])
    assert split_dataset.main(args) == 0
    assert len(read_split(annotations / "train.txt")) == 6
    train_predict_inspect(tmp_path, labelimg_save_dir / "samples", 8, "--data-root",
                          str(annotations))  # fmt: skip


def test_images_moved_away_are_named_by_image_dir(labelimg_save_dir, tmp_path, caplog):
    annotations = labelimg_save_dir / "annotations"
    photos = labelimg_save_dir.parent / "photos"
    (labelimg_save_dir / "samples").rename(photos)
    missing = r"IMG_000\.xml: image IMG_000\.jpg not found .*--image-dir"
    with pytest.raises(DatasetError, match=missing):
        scan_voc_folder(annotations)
    out = tmp_path / "labels.csv"
    argv = ["--input", str(annotations), "--output", str(out)]
    assert voc_to_csv.main(voc_to_csv.parse_args(argv)) == 2
    assert "IMG_000.xml: image IMG_000.jpg not found" in caplog.text
    assert voc_to_csv.main(voc_to_csv.parse_args([*argv, "--image-dir", str(photos)])) == 0
    assert len(csv_images(out)) == 8


@pytest.fixture
def vocdevkit(photos, tmp_path):
    """``VOCdevkit/VOC2007`` as Pascal VOC and CVAT's / Roboflow's VOC exports lay it out: XML in
    ``Annotations/``, images in ``JPEGImages/``, stems in ``ImageSets/Main/trainval.txt`` and
    ``test.txt`` (and a per-class list, which is not a split)."""
    year = tmp_path / "VOCdevkit" / "VOC2007"
    stems = [f"{k:06d}" for k in range(len(photos))]
    for stem, (image, objects) in zip(stems, photos, strict=True):
        (year / "JPEGImages").mkdir(parents=True, exist_ok=True)
        shutil.copy(image, year / "JPEGImages" / f"{stem}.jpg")
        labelimg_save(f"/home/ann/VOCdevkit/VOC2007/JPEGImages/{stem}.jpg", (96, 96), objects,
                      year / "Annotations" / f"{stem}.xml")  # fmt: skip
    lists = year / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    (lists / "trainval.txt").write_text("\n".join(stems[:6]) + "\n")
    (lists / "test.txt").write_text("\n".join(stems[6:]) + "\n")
    (lists / "Tops_trainval.txt").write_text("".join(f"{s}  1\n" for s in stems[:6]))
    return year


def test_a_voc_year_folder_and_a_vocdevkit_are_read_with_their_splits(vocdevkit, tmp_path):
    for root in (vocdevkit, vocdevkit.parent):
        train, val = voc_parts(root)
        records = [scan_parts(parts)[0] for parts in (train, val)]
        assert [[r.image.name for r in side] for side in records] == [
            [f"{k:06d}.jpg" for k in range(6)], ["000006.jpg", "000007.jpg"]]  # fmt: skip
    assert [p.name for p in voc_parts(vocdevkit.parent, train_splits="2007_test")[0]] == [
        "VOC2007 test"
    ]
    with pytest.raises(DatasetError, match=r"VOC2012: folder not found \(split 2012_trainval\)"):
        voc_parts(vocdevkit.parent, train_splits="2007_trainval,2012_trainval")
    with pytest.raises(DatasetError, match=r"Main/val\.txt: split file not found .*test, trainval"):
        voc_parts(vocdevkit, val_splits="val")
    out = tmp_path / "labels.csv"
    argv = ["--input", str(vocdevkit.parent), "--output", str(out)]
    assert voc_to_csv.main(voc_to_csv.parse_args(argv)) == 0
    assert len(csv_images(out)) == 8
    train_predict_inspect(tmp_path, vocdevkit, 8, "--data-root", str(vocdevkit.parent))


def test_roboflow_folder_splits_train_with_their_validation_folder(photos, tmp_path):
    """Roboflow's "Pascal VOC" export: ``train/``, ``valid/``, ``test/``, each XML beside its
    image, no list files; ``<path>`` is the bare file name."""
    export = tmp_path / "apparel.v1i.voc"
    for k, (image, objects) in enumerate(photos):
        split = "train" if k < 5 else "valid" if k < 7 else "test"
        name = f"IMG_{k:03d}_jpg.rf.{k:08x}"
        (export / split).mkdir(parents=True, exist_ok=True)
        shutil.copy(image, export / split / f"{name}.jpg")
        labelimg_save(f"{name}.jpg", (96, 96), objects, export / split / f"{name}.xml")
    train, val = voc_parts(export)
    assert [p.annotations.name for p in train + val] == ["train", "valid"]
    assert [len(scan_parts(p)[0]) for p in (train, val)] == [5, 2]
    train, val = voc_parts(export / "train", val_root=export / "test")
    assert [len(scan_parts(p)[0]) for p in (train, val)] == [5, 1]
    out = tmp_path / "labels.csv"
    assert voc_to_csv.main(voc_to_csv.parse_args(["--input", str(export), "--output",
                                                   str(out)])) == 0  # fmt: skip
    assert len(csv_images(out)) == 8
    train_predict_inspect(tmp_path, export / "valid", 2, "--data-root", str(export))


def test_a_vocdevkit_of_2012_alone_validates_on_its_val_split(vocdevkit):
    """VOC2012 comes without test.txt: its val list is the validation split."""
    year = vocdevkit.rename(vocdevkit.parent / "VOC2012")
    lists = year / "ImageSets" / "Main"
    (lists / "test.txt").rename(lists / "val.txt")
    train, val = voc_parts(year.parent)
    assert [p.name for p in train + val] == ["VOC2012 trainval", "VOC2012 val"]
