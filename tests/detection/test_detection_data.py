import shutil

import numpy as np
import pytest

from gluonext.detection.data import VOCFolderDetection
from gluonext.errors import DatasetError
from gluonext.formats.labelimg import VOC_CLASSES, class_counts, read_class_list, scan_voc_folder
from gluonext.sample.writers import write_voc


@pytest.fixture(scope="module")
def voc_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("voc")
    write_voc(root, 12, seed=4, size=(160, 192), progress=False)
    return root


@pytest.fixture
def voc(voc_sample, tmp_path):
    shutil.copytree(voc_sample, tmp_path / "voc")
    return tmp_path / "voc"


def test_labels_are_gluoncv_voc_rows_of_the_discovered_classes(voc):
    dataset = VOCFolderDetection(voc)
    assert set(dataset.CLASSES) <= set(VOC_CLASSES) and list(dataset.CLASSES) == sorted(
        dataset.CLASSES
    )
    image, label = dataset[0]
    assert image.shape == (192, 160, 3) and label.shape[1] == 6
    record = dataset.records[0]
    x1, y1, x2, y2 = record.objects[0].box
    np.testing.assert_array_equal(label[0, :4], [x1 - 1, y1 - 1, x2 - 1, y2 - 1])
    assert dataset.CLASSES[int(label[0, 4])] == record.objects[0].name
    fixed = VOCFolderDetection(voc, classes=list(VOC_CLASSES))
    assert fixed.CLASSES == tuple(VOC_CLASSES)


def _edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "message", "reason"),
    [
        ("<xmax>", "<xmax>-5", "zero area", "zero area"),
        ("<xmax>", "<xmax>9999", "outside the 160x192 image", "outside"),
        ("<ymin>", "<ymin>abc", "is 'abc", "not a number"),
    ],
)
def test_bad_boxes_name_the_file_or_are_skipped_with_a_count(voc, old, new, message, reason):
    target = sorted(voc.glob("*.xml"))[2]
    _edit(target, old, new)
    with pytest.raises(DatasetError, match=f"{target.name} object 0: .*{message}"):
        scan_voc_folder(voc)
    records, report = scan_voc_folder(voc, skip_bad=True)
    assert report.skipped_objects[reason] >= 1 and len(records) == 12


def test_damaged_image_or_a_size_that_disagrees_names_the_file_or_is_skipped(voc):
    xmls = sorted(voc.glob("*.xml"))
    _edit(xmls[1], "<width>160</width>", "<width>20</width>")
    image = xmls[4].with_suffix(".jpg")
    image.write_bytes(image.read_bytes()[: image.stat().st_size * 2 // 5])  # cut short
    with pytest.raises(DatasetError, match=f"{xmls[1].name}: its image .* image is 192x160 but"):
        scan_voc_folder(voc)
    records, report = scan_voc_folder(voc, skip_bad=True)
    assert len(records) == 10 and len(report.skipped_files) == 2
    assert any("truncated JPEG" in reason for _, reason in report.skipped_files)


def test_unknown_classes_unreadable_xml_and_missing_images(voc, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("Tops\nSkirts\n")
    with pytest.raises(DatasetError, match="unknown class"):
        scan_voc_folder(voc, read_class_list(classes))
    records, report = scan_voc_folder(voc, read_class_list(classes), skip_bad=True)
    assert set(class_counts(records)) <= {"Tops", "Skirts"}
    assert report.skipped_objects["unknown class"] > 0
    broken = sorted(voc.glob("*.xml"))[0]
    broken.write_text("<annotation><filename>")
    with pytest.raises(DatasetError, match=f"{broken.name}: not readable XML"):
        scan_voc_folder(voc)
    records, report = scan_voc_folder(voc, skip_bad=True)
    assert len(records) == 11 and len(report.skipped_files) == 1
    assert "1 files skipped" in report.summary()
    broken.unlink()
    sorted(voc.glob("*.jpg"))[1].unlink()
    missing = r"apparel_00001.jpg not found \(looked in .*--image-dir"
    with pytest.raises(DatasetError, match=missing):
        scan_voc_folder(voc)
    with pytest.raises(DatasetError, match="listed twice"):
        classes.write_text("Tops\nTops\n")
        read_class_list(classes)


def test_mixup_blends_two_images_and_weights_their_boxes(voc_sample):
    from gluonext.detection.data import MixupBoxes

    base = VOCFolderDetection(voc_sample)
    mixed = MixupBoxes(base)
    image, label = mixed[(0, 7)]
    again_image, again_label = mixed[(0, 7)]
    np.testing.assert_array_equal(image, again_image)  # seeded: the same item twice
    np.testing.assert_array_equal(label, again_label)
    own = base.label(0)
    assert label.shape[1] == own.shape[1] + 1
    lam = label[0, -1]
    assert 0 < lam < 1  # Beta(1.5, 1.5) never gives exactly 0 or 1
    np.testing.assert_array_equal(label[: len(own), :-1], own)
    np.testing.assert_allclose(label[: len(own), -1], lam)
    np.testing.assert_allclose(label[len(own) :, -1], 1 - lam, rtol=1e-6)
    # the other image's boxes are some other item's boxes
    others = [base.label(k) for k in range(1, len(base))]
    assert any(np.array_equal(label[len(own) :, :-1], o) for o in others)
    first, _ = base.load(0)
    assert not np.array_equal(image, first)
    mixed.enabled = False  # GluonCV's last epochs: the item itself, every box weight 1
    image, label = mixed[(0, 7)]
    np.testing.assert_array_equal(image, first)
    np.testing.assert_array_equal(label[:, -1], 1.0)


def test_files_outside_the_split_are_not_judged(voc):
    stem = sorted(p.stem for p in voc.glob("*.xml"))[0]
    own = sorted({o.name for o in scan_voc_folder(voc, stems=[stem])[0][0].objects})
    assert len(own) < len(VOC_CLASSES)  # other files have classes this list lacks
    with pytest.raises(DatasetError, match="unknown class"):
        VOCFolderDetection(voc, own)
    dataset = VOCFolderDetection(voc, own, [stem])
    assert len(dataset) == 1 and dataset.report.files == 1
