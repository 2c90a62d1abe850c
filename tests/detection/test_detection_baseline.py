import numpy as np

from gluonext.detection.baseline import evaluate_baseline


class Boxes:
    CLASSES = ("Tops", "Skirts")

    def __init__(self, items):
        self.items = items  # (height, width, label rows x1 y1 x2 y2 class)

    def __len__(self):
        return len(self.items)

    def size(self, index):
        return self.items[index][:2]

    def label(self, index):
        return np.array(self.items[index][2], np.float32).reshape(-1, 5)


def test_typical_boxes_score_where_the_classes_always_are_and_not_elsewhere():
    train = Boxes([(100, 100, [[20, 10, 80, 50, 0], [30, 50, 70, 90, 1]])] * 4)
    same = Boxes([(200, 200, [[40, 20, 160, 100, 0], [60, 100, 140, 180, 1]])])
    assert abs(evaluate_baseline(train, same)["voc07_mAP"] - 1.0) < 1e-9
    swapped = Boxes([(100, 100, [[30, 50, 70, 90, 0], [20, 10, 80, 50, 1]])])
    assert evaluate_baseline(train, swapped)["voc07_mAP"] == 0.0
