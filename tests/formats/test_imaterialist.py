import json

import pytest

from gluonext.formats import imaterialist as im


def test_label_descriptions_have_the_real_counts_and_supercategories():
    payload = im.label_descriptions()
    assert len(payload["categories"]) == 46 and len(payload["attributes"]) == 92
    sup = {c["id"]: c["supercategory"] for c in payload["categories"]}
    assert [sup[i] for i in range(13)] == ["upperbody"] * 6 + ["lowerbody"] * 3 + ["wholebody"] * 4
    assert payload["categories"][23]["name"] == "shoe"
    assert payload["categories"][31]["name"] == "sleeve"


@pytest.mark.parametrize(
    "text, expected",
    [("6", (6, [])), ("6_28_77", (6, [28, 77])), (" 10_1 ", (10, [1]))],
)
def test_parse_class_id(text, expected):
    assert im.parse_class_id(text) == expected
    assert im.parse_class_id(im.format_class_id(*expected)) == expected


@pytest.mark.parametrize("text", ["", "a", "6_", "6__2", "-1", "6_x"])
def test_parse_class_id_rejects_garbage(text):
    with pytest.raises(ValueError, match="ClassId"):
        im.parse_class_id(text)


def test_select_categories():
    ids = list(range(46))
    assert im.select_categories("all", ids) == ids
    assert im.select_categories("main", ids) == list(range(13))
    assert im.select_categories("10, 0,10", ids) == [0, 10]
    with pytest.raises(ValueError, match="unknown category ids \\[99\\]"):
        im.select_categories("1,99", ids)
    with pytest.raises(ValueError, match="comma-separated"):
        im.select_categories("shirts", ids)


def test_load_label_descriptions_errors_name_the_file(tmp_path):
    path = tmp_path / "label_descriptions.json"
    with pytest.raises(im.LabelDescriptionError, match="not found"):
        im.load_label_descriptions(path)
    path.write_text("{not json")
    with pytest.raises(im.LabelDescriptionError, match="not valid JSON"):
        im.load_label_descriptions(path)
    path.write_text(json.dumps({"categories": [{"id": 0, "name": "a"}]}))
    with pytest.raises(im.LabelDescriptionError, match="'attributes'"):
        im.load_label_descriptions(path)
    path.write_text(
        json.dumps(
            {"categories": [{"id": 0, "name": "a"}, {"id": 0, "name": "b"}], "attributes": []}
        )
    )
    with pytest.raises(im.LabelDescriptionError, match="duplicate"):
        im.load_label_descriptions(path)
    path.write_text(json.dumps(im.label_descriptions()))
    categories, attributes = im.load_label_descriptions(path)
    assert len(categories) == 46 and len(attributes) == 92
