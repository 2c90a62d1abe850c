"""What a user sees of predicted attributes: the JSON, the overlay's captions, the legend,
COCO results and the Kaggle ClassId."""

import numpy as np

from gluonext.instance.attributes import AttributeVocabulary
from gluonext.instance.evaluate import Instances, to_coco_results
from gluonext.instance.inference import InstanceResult
from gluonext.instance.submission import submission_rows

VOCAB = AttributeVocabulary([{"id": 28, "name": "pleat"}, {"id": 50, "name": "short (shorts)"},
                             {"id": 77, "name": "zip"}])  # fmt: skip


def two_instances():
    masks = np.zeros((40, 60, 2), np.uint8, order="F")
    masks[5:20, 5:30, 0] = 1
    masks[22:38, 10:50, 1] = 1
    return Instances(np.array([1, 0]), np.array([0.9, 0.6], np.float32),
                     np.array([[5, 5, 30, 20], [10, 22, 50, 38]], np.float32), masks,
                     np.array([[0.8, 0.1, 0.95], [0.2, 0.7, 0.4]], np.float32))  # fmt: skip


def test_json_lists_attributes_most_likely_first_and_the_overlay_names_them():
    result = InstanceResult(two_instances(), ["shorts", "skirt"], VOCAB)
    shown = result.to_json()["instances"]
    assert [a["id"] for a in shown[0]["attributes"]] == [77, 28]
    assert shown[0]["attributes"][0] == {"id": 77, "name": "zip", "score": 0.95}
    assert [a["name"] for a in shown[1]["attributes"]] == ["short (shorts)"]
    image = np.full((40, 60, 3), 200, np.uint8)
    plain = InstanceResult(two_instances(), ["shorts", "skirt"]).draw(image)
    captioned = result.draw(image)
    assert (plain != captioned).any()  # the attribute names are written
    legend = {e["name"]: e["detail"] for e in result.legend()}
    assert legend["skirt"].endswith("; pleat, zip") and legend["shorts"].endswith("short (shorts)")
    assert "attributes" not in InstanceResult(two_instances(), ["a", "b"]).to_json()["instances"][0]


def test_coco_results_and_the_kaggle_class_id_carry_the_attributes():
    records = to_coco_results(7, two_instances(), [6, 8], VOCAB)
    assert [r["attribute_ids"] for r in records] == [[77, 28], [50]]
    named = [{**r, "file_name": "a.jpg"} for r in records]
    rows, report = submission_rows(named, threshold=0.5)
    assert [row[2] for row in rows] == ["8_77_28", "6_50"]  # train.csv's ClassId form
    assert report.per_class == {8: 1, 6: 1}
    without = [{k: v for k, v in r.items() if k != "attribute_ids"} for r in named]
    assert [row[2] for row in submission_rows(without)[0]] == ["8", "6"]
