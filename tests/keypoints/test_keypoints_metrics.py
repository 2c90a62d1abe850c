import numpy as np
import pytest

from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS
from gluonext.keypoints.metrics import NormalizedError

K = {name: k for k, name in enumerate(FASHIONAI_KEYPOINTS)}


def truth(**points):
    t = np.full((24, 3), -1.0, np.float32)
    for name, value in points.items():
        t[K[name]] = value
    return t


def test_ne_counts_visible_keypoints_normalised_per_category():
    metric = NormalizedError()
    # blouse: armpits 40 px apart; neckline_left visible and 4 px off, armpit_right 0 px off,
    # shoulder_left occluded (v 0) and far off: not counted
    blouse = truth(armpit_left=(10, 50, 1), armpit_right=(50, 50, 1),
                   neckline_left=(20, 10, 1), shoulder_left=(5, 20, 0))  # fmt: skip
    predicted = blouse[:, :2].copy()
    predicted[K["neckline_left"]] += (0, 4)
    predicted[K["armpit_left"]] += (3, 4)  # 5 px
    predicted[K["shoulder_left"]] += (90, 0)
    metric.update("blouse", predicted, blouse)
    # skirt: waistband 20 px apart (occluded ends still normalise); hemline_left 2 px off
    skirt = truth(waistband_left=(0, 0, 0), waistband_right=(20, 0, 0), hemline_left=(5, 40, 1))
    predicted = skirt[:, :2].copy()
    predicted[K["hemline_left"]] += (2, 0)
    metric.update("skirt", predicted, skirt)
    per = metric.per_category()
    assert per["blouse"] == pytest.approx(100 * (4 / 40 + 5 / 40 + 0) / 3)
    assert per["skirt"] == pytest.approx(100 * (2 / 20) / 1)
    assert metric.overall == pytest.approx(100 * (4 / 40 + 5 / 40 + 2 / 20) / 4)


def test_images_without_a_normaliser_are_counted_not_scored():
    metric = NormalizedError()
    t = truth(armpit_left=(10, 10, 1), neckline_left=(0, 0, 1))  # armpit_right absent
    metric.update("dress", t[:, :2], t)
    t = truth(waistband_left=(5, 5, 1), waistband_right=(5, 5, 1), crotch=(0, 0, 1))
    metric.update("trousers", t[:, :2], t)  # the two ends coincide
    assert metric.unscored == 2 and np.isnan(metric.overall)
