import numpy as np

from gluonext.formats.fashionai import FASHIONAI_KEYPOINTS, KeypointRow
from gluonext.keypoints.baseline import evaluate_baseline, mean_positions


class Rows:
    def __init__(self, root, rows):
        self.root, self.rows = root, rows

    def __len__(self):
        return len(self.rows)


def _row(image_id, category, points):
    full = np.full((len(FASHIONAI_KEYPOINTS), 3), -1.0, np.float32)
    for name, (x, y) in points.items():
        full[FASHIONAI_KEYPOINTS.index(name)] = (x, y, 1)
    return KeypointRow(image_id, category, full, 2)


def test_the_means_are_per_category_in_image_fractions_and_score_with_ne(tmp_path):
    from PIL import Image

    for name, size in (("a.jpg", (100, 100)), ("b.jpg", (200, 100)), ("c.jpg", (100, 100))):
        Image.new("RGB", size).save(tmp_path / name)
    skirt = {"waistband_left": (60, 20), "waistband_right": (40, 20), "hemline_left": (70, 80)}
    wide = {k: (2 * x, y) for k, (x, y) in skirt.items()}  # the same place in a wider image
    train = Rows(tmp_path, [_row("a.jpg", "skirt", skirt), _row("b.jpg", "skirt", wide)])
    means = mean_positions(train)
    index = FASHIONAI_KEYPOINTS.index("waistband_left")
    np.testing.assert_allclose(means["skirt"][index], [0.6, 0.2])
    exact = evaluate_baseline(train, Rows(tmp_path, [_row("c.jpg", "skirt", skirt)]))
    assert exact["NE"] < 1e-4
    moved = {k: (x + 10, y) for k, (x, y) in skirt.items()}  # 10 px off, normaliser 20 px
    off = evaluate_baseline(train, Rows(tmp_path, [_row("c.jpg", "skirt", moved)]))
    assert abs(off["NE"] - 50.0) < 1e-4
