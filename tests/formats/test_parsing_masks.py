"""Classes files and mask PNGs of one's own parsing dataset."""

import numpy as np
import pytest
from PIL import Image

from gluonext.errors import DatasetError
from gluonext.formats.parsing_masks import read_classes_file, read_mask


def test_classes_files_give_names_and_optional_colours(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("background\nupper clothes\n# a comment\nleft shoe\n")
    assert read_classes_file(path) == (("background", "upper clothes", "left shoe"), None)
    path.write_text("background 0 0 0\nupper clothes #ff8000\nleft shoe 0 128 255\n")
    assert read_classes_file(path) == (("background", "upper clothes", "left shoe"),
                                       [(0, 0, 0), (255, 128, 0), (0, 128, 255)])  # fmt: skip
    for text, error in (("a 0 0 0\nb\n", "on every line or on none"),
                        ("a\na\n", "listed twice"), ("a #000000\nb 0 0 0\n", "share a colour"),
                        ("a 0 0 300\n", "line 1: colour")):  # fmt: skip
        path.write_text(text)
        with pytest.raises(DatasetError, match=error):
            read_classes_file(path)
    with pytest.raises(DatasetError, match="nowhere.txt: file not found"):
        read_classes_file(tmp_path / "nowhere.txt")


def test_index_palette_and_colour_masks_give_the_same_class_map(tmp_path):
    label = np.array([[0, 1, 2], [2, 255, 1]], np.uint8)
    Image.fromarray(label, mode="L").save(tmp_path / "index.png")
    palette = Image.fromarray(label, mode="P")
    palette.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0] + [9, 9, 9] * 253)
    palette.save(tmp_path / "palette.png")
    expected = np.array([[0, 1, 2], [2, -1, 1]])
    assert np.array_equal(read_mask(tmp_path / "index.png", 3), expected)
    assert np.array_equal(read_mask(tmp_path / "palette.png", 3), expected)
    colours = [(0, 0, 0), (200, 0, 0), (0, 200, 0)]
    rgb = np.array(colours, np.uint8)[np.array([[0, 1, 2], [2, 0, 1]])]
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(read_mask(tmp_path / "rgb.png", 3, colours=colours),
                          [[0, 1, 2], [2, 0, 1]])  # fmt: skip
    with pytest.raises(DatasetError, match=r"rgb.png: colour \(200, 0, 0\) is no class"):
        read_mask(tmp_path / "rgb.png", 3, colours=[(0, 0, 0), (1, 1, 1), (0, 200, 0)])
    with pytest.raises(DatasetError, match=r"index.png: values \[2\] are no class \(0-1, 255"):
        read_mask(tmp_path / "index.png", 2)
    with pytest.raises(DatasetError, match="needs colours"):
        read_mask(tmp_path / "rgb.png", 3)
