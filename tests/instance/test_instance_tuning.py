"""Threshold tuning on a validation set built by hand, where the defaults miss a true object
scored 0.4 and a lower false one must stay out."""

import numpy as np
import pytest

from gluonext.instance.evaluate import paste_masks
from gluonext.instance.postprocess import DEFAULTS, PostProcess
from gluonext.instance.tta import Pass
from gluonext.instance.tuning import Candidates, Validation, cross_check, score_settings, tune

SIZE = (40, 48)


def _image(name):
    ids = np.array([0.0, 1.0])
    scores = np.array([0.4, 0.2])  # a true shirt below the default 0.5; a false skirt
    boxes = np.array([[5, 5, 20, 24], [26, 20, 40, 36]], np.float32)
    masks = np.ones((2, 14, 14), np.float32)
    return Candidates(name, SIZE, Pass(ids.astype(int), scores, boxes, masks))


def _validation(names=("a.jpg",)):
    images = [_image(n) for n in names]
    truth = {}
    for c in images:  # the shirt's own pasted mask is the truth: IoU 1 when it is submitted
        shirt = paste_masks(c.found.masks[:1], c.found.boxes[:1], SIZE[1], SIZE[0])
        truth[(c.name, 7)] = [shirt[:, :, 0].flatten(order="F").astype(bool)]
    return Validation(images, truth, [7, 9])


def test_scores_follow_the_competition_by_hand():
    validation = _validation()
    assert score_settings(validation, DEFAULTS) == 0.0  # the shirt cut: its pair scores 0
    assert score_settings(validation, PostProcess(score=0.3)) == 1.0
    # the skirt too: (image, skirt) is a pair only predicted, scored 0; mean 0.5
    assert score_settings(validation, PostProcess(score=0.2)) == pytest.approx(0.5)


def test_tuning_finds_the_score_band_and_reports_its_gain():
    tuned = tune(_validation(), rounds=2)
    assert 0.2 < tuned.settings.score <= 0.4
    assert tuned.default_score == 0.0 and tuned.score == 1.0
    assert set(tuned.curves) == {"score", "mask", "nms", "min_area"}
    assert dict(tuned.curves["score"])[0.2] == pytest.approx(0.5)


def test_cross_check_scores_unseen_halves():
    check = cross_check(_validation(("a.jpg", "b.jpg", "c.jpg", "d.jpg")), rounds=1)
    assert check["default"] == 0.0 and check["tuned"] == 1.0
