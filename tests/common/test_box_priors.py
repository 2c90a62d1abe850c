import numpy as np

from gluonext.common.box_priors import class_priors, kmeans, normalised, predict


def test_kmeans_finds_separated_groups_and_is_seeded():
    rng = np.random.RandomState(0)
    points = np.concatenate([rng.normal(c, 0.01, (30, 2)) for c in (0.2, 0.5, 0.8)])
    centres, members = kmeans(points, 3, seed=1)
    assert sorted(np.round(centres[:, 0], 1)) == [0.2, 0.5, 0.8]
    assert sorted(members) == [30, 30, 30]
    again, _ = kmeans(points, 3, seed=1)
    np.testing.assert_array_equal(centres, again)


def test_priors_are_scored_by_class_share_and_scaled_to_the_image():
    label = np.array([[10, 20, 30, 60, 0], [0, 0, 100, 100, 1], [0, 0, 100, 100, 1]], float)
    boxes = normalised(label, 100, 200)
    np.testing.assert_allclose(boxes[0], [0.1, 0.4, 0.1, 0.4])
    priors = class_priors(boxes, label[:, 4].astype(int), 3)
    assert [cls for cls, _, _ in priors] == [0, 1]  # class 2 has no boxes
    assert [round(score, 3) for _, _, score in priors] == [0.333, 0.667]
    ids, scores, corners = predict(priors, 50, 400)  # another image size
    np.testing.assert_allclose(corners[0], [20, 10, 60, 30])
    np.testing.assert_allclose(corners[1], [0, 0, 200, 50])
