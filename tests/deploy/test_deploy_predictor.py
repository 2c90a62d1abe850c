"""``load_predictor``: one call for a checkpoint or an export folder of any task, a typed
result with ``draw()`` and ``to_json()``, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gluonext import load_predictor
from gluonext.common.images import read_rgb
from gluonext.deploy.export import export_model
from gluonext.errors import CheckpointError, DatasetError, ModelError

pytestmark = pytest.mark.xdist_group("deploy")


def test_import_gluonext_stays_light():
    code = "import sys, gluonext; assert 'mxnet' not in sys.modules; gluonext.load_predictor"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "family, kind, fields",
    [
        ("seg_deeplabv3plus", "SegmentationResult", ("class_map", "fractions")),
        ("ssd", "DetectionResult", ("boxes", "class_ids", "scores")),
        ("simple_pose", "KeypointResult", ("points", "confidences", "names")),
        ("mask_rcnn", "InstanceResult", ("boxes", "masks", "scores")),
    ],
)
def test_one_typed_result_per_task(family, kind, fields, checkpoints, photos):
    predictor = load_predictor(checkpoints(family), min_score=0.0) if family in (
        "ssd", "mask_rcnn") else load_predictor(checkpoints(family))  # fmt: skip
    image = read_rgb(photos[0])
    result = predictor(image)
    assert type(result).__name__ == kind
    for name in fields:
        assert getattr(result, name) is not None
    drawn = result.draw(image)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["task"] == predictor.task
    if kind == "SegmentationResult":
        assert result.class_map.shape == image.shape[:2]
        assert sum(result.fractions.values()) == pytest.approx(1.0, abs=1e-3)
    if kind == "InstanceResult":
        assert result.masks.shape[:2] == image.shape[:2]
        assert len(payload["instances"]) == len(result.scores) > 0
        assert payload["instances"][0]["mask"]["size"] == list(image.shape[:2])
    if kind == "KeypointResult":
        skirt = predictor(image, category="skirt")
        assert {k["name"] for k in skirt.to_json()["keypoints"]} == {
            "waistband_left", "waistband_right", "hemline_left", "hemline_right"}  # fmt: skip


def test_flip_averages_with_the_mirrored_image(checkpoints, photos):
    plain = load_predictor(checkpoints("seg_fcn"))
    flipped = load_predictor(checkpoints("seg_fcn"), flip=True)
    image = read_rgb(photos[0])
    side = min(image.shape[:2])
    image = np.ascontiguousarray(image[:side, :side])  # square: no padding to break symmetry
    mirrored = image[:, ::-1].copy()
    a = flipped.scores(image)
    b = flipped.scores(mirrored)[:, ::-1]
    np.testing.assert_allclose(a, b, atol=1e-4)  # flip test is symmetric by construction
    assert not np.allclose(a, 2 * plain.scores(image), atol=1e-4)


def test_instance_test_time_passes_are_symmetric_and_run_exported(checkpoints, photos,
                                                                   tmp_path):  # fmt: skip
    """Mask R-CNN with --flip-test: an image and its mirror give mirrored instances (the two
    passes are the same pair); other scales run; the exported symbol takes the same options."""
    from gluonext.deploy.export import export_model

    ckpt = checkpoints("mask_rcnn")
    image = read_rgb(photos[0])
    mirrored = np.ascontiguousarray(image[:, ::-1])
    # one epoch scores garments at about 0.01; a mirrored pass alone halves a score
    tta = load_predictor(ckpt, flip_test=True, min_score=0.001)
    a, b = tta(image), tta(mirrored)
    assert len(a.scores) == len(b.scores) > 0
    width = image.shape[1]

    def order(found, mirror):
        """Instances by score, class, then box centre as seen in the unmirrored image: equal
        scores (a one-epoch model has them, e.g. at both image edges) have no order of their
        own, and a mirror reverses theirs."""
        centre = (found.boxes[:, 0] + found.boxes[:, 2]) / 2
        centre = width - centre if mirror else centre
        return np.lexsort((centre.round(2), found.class_ids, -found.scores.round(4)))

    i, j = order(a, False), order(b, True)
    # the attribute head's probabilities are merged with the instances
    assert a.instances.attributes.shape == (len(a.scores), 92)
    np.testing.assert_allclose(a.instances.attributes[i], b.instances.attributes[j], atol=1e-4)
    np.testing.assert_allclose(a.scores[i], b.scores[j], atol=1e-5)
    assert a.class_ids[i].tolist() == b.class_ids[j].tolist()
    np.testing.assert_allclose(a.boxes[i][:, (0, 2)], width - b.boxes[j][:, (2, 0)], atol=1e-3)
    np.testing.assert_allclose(a.boxes[i][:, (1, 3)], b.boxes[j][:, (1, 3)], atol=1e-3)
    same = (a.masks[:, :, i] == b.masks[:, ::-1, j]).mean()  # H x W x instances
    assert same > 0.995, same  # pasting rounds box edges; a pixel column may differ
    plain = load_predictor(ckpt, min_score=0.001)(image)
    assert not np.array_equal(plain.scores, a.scores)
    export_model(ckpt, tmp_path / "e", formats=("symbol",), images=[str(photos[0])])
    exported = load_predictor(tmp_path / "e", scales=(0.8, 1.0), min_score=0.001)
    x, y = exported(image), load_predictor(ckpt, scales=(0.8, 1.0), min_score=0.001)(image)
    np.testing.assert_allclose(x.scores, y.scores, atol=1e-4)
    np.testing.assert_allclose(x.boxes, y.boxes, atol=1e-2)


def test_errors_name_the_problem(checkpoints, photos, tmp_path):
    with pytest.raises(CheckpointError, match="neither a .ckpt file nor an export folder"):
        load_predictor(tmp_path)
    with pytest.raises(CheckpointError, match="a segmentation model, not a detection one"):
        load_predictor(checkpoints("seg_fcn"), task="detection")
    with pytest.raises(ModelError, match="backend 'tensorrt'"):
        load_predictor(checkpoints("seg_fcn"), backend="tensorrt")
    export_model(checkpoints("seg_fcn"), tmp_path / "e", images=[str(photos[0])])
    with pytest.raises(ModelError, match="exported for 64x64 input"):
        load_predictor(tmp_path / "e", input_size=(96, 96))
    with pytest.raises(ModelError, match="multi-scale needs the .ckpt"):
        load_predictor(tmp_path / "e", scales=(0.75, 1.0))(read_rgb(photos[0]))
    with pytest.raises(DatasetError, match="H x W x 3 uint8"):
        load_predictor(tmp_path / "e")(np.zeros((8, 8), dtype=np.float32))
    (tmp_path / "e" / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="model.json: not a readable export"):
        load_predictor(tmp_path / "e")


def test_instance_predictions_json_carries_the_attribute_ids(checkpoints, photos, tmp_path):
    """tools/predict_instances.py's folder run with an attribute model: every record lists its
    attribute_ids, the set the vocabulary chooses from the instance's probabilities."""
    import json
    import shutil

    from gluonext.instance.predict import InstancePredictOptions, predict_folder

    folder = tmp_path / "in"
    folder.mkdir()
    for path in photos[:2]:
        shutil.copy(path, folder / path.name)
    predictor = load_predictor(checkpoints("mask_rcnn"), min_score=0.01)
    options = InstancePredictOptions(checkpoint=checkpoints("mask_rcnn"), input=folder,
                                     output=tmp_path / "out", progress=False)  # fmt: skip
    assert predict_folder(options, predictor)["done"] == 2
    records = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert records and all(isinstance(r["attribute_ids"], list) for r in records)
    found = predictor(read_rgb(photos[0]))
    vocabulary = predictor.vocabulary
    expected = [vocabulary.predicted(row) for row in found.instances.attributes]
    mine = [r["attribute_ids"] for r in records if r["file_name"] == photos[0].name]
    assert mine == expected
