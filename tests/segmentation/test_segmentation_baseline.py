import numpy as np

from gluonext.segmentation.baseline import class_prior, evaluate_baseline, predict


class Labels:
    """A dataset of label maps only (what the baseline reads)."""

    CLASSES = ("background", "garment", "shoe")

    def __init__(self, labels):
        self.labels = labels

    NUM_CLASS = 3

    def __len__(self):
        return len(self.labels)

    def label(self, index):
        return self.labels[index]


def _scene(height, width, top=0.5):
    label = np.zeros((height, width), np.uint8)
    label[: int(height * top), width // 4 : 3 * width // 4] = 1  # a garment, upper middle
    label[-2:, :] = 2  # shoes along the bottom
    return label


def test_the_prior_predicts_each_position_s_most_frequent_class_at_any_size():
    train = Labels([_scene(64, 48), _scene(80, 60), _scene(40, 40)])
    prior = class_prior(train, 3)
    assert prior.shape == (32, 32, 3)
    np.testing.assert_allclose(prior.sum(axis=2), 1.0, atol=1e-6)
    guess = predict(prior, 100, 80)
    assert guess[10, 40] == 1 and guess[10, 2] == 0 and guess.shape == (100, 80)
    matrix = evaluate_baseline(train, Labels([_scene(128, 96)]))
    assert matrix.iou[0] > 0.9 and matrix.iou[1] > 0.9  # shoes are too thin for the grid
    assert 0.6 < matrix.mean_iou < 1.0


def test_it_never_looks_at_the_validation_labels_beyond_scoring():
    train = Labels([_scene(64, 48)] * 3)
    flipped = Labels([_scene(64, 48)[::-1].copy()])  # garment at the bottom instead
    assert evaluate_baseline(train, flipped).iou[1] < 0.05
