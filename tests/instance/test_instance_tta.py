"""Merging test-time passes, on candidates written by hand."""

import numpy as np
import pytest

from gluonext.instance.evaluate import paste_masks, pasted_pieces
from gluonext.instance.tta import Pass, merge_passes

SIZE = (40, 60)
FULL = np.ones((1, 14, 14), np.float32)


def _pass(ids, scores, boxes):
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    return Pass(np.array(ids, int), np.array(scores, np.float32), boxes,
                np.repeat(FULL, len(ids), axis=0))  # fmt: skip


def test_one_pass_is_the_plain_prediction():
    one = _pass([2, 0], [0.9, 0.3], [[4, 4, 20, 30], [30, 5, 55, 35]])
    merged = merge_passes([one], SIZE)
    assert merged.class_ids.tolist() == [2, 0] and np.allclose(merged.scores, [0.9, 0.3])
    np.testing.assert_array_equal(merged.masks, paste_masks(one.masks, one.boxes, 60, 40))


def test_passes_vote_on_box_score_and_mask():
    a = _pass([1, 1], [0.8, 0.6], [[10, 10, 30, 30], [40, 5, 58, 20]])
    b = _pass([1, 3], [0.4, 0.7], [[12, 10, 32, 30], [40, 5, 58, 20]])  # same box, other class
    merged = merge_passes([a, b], SIZE, min_score=0.05)
    # the overlapping pair (IoU 18/22 > 0.5) is one object: scores summed over 2 passes
    # (0.6), box weighted 0.8 : 0.4; the others stand alone, at half their score
    assert merged.class_ids.tolist() == [1, 3, 1]
    assert merged.scores == pytest.approx([0.6, 0.35, 0.3])
    weighted = [(0.8 * 10 + 0.4 * 12) / 1.2, 10, (0.8 * 30 + 0.4 * 32) / 1.2, 30]
    assert merged.boxes[0] == pytest.approx(weighted)
    # the merged mask: the mean of the two pasted probability maps, thresholded
    maps = np.zeros((2, 40, 60), np.float32)
    for k, (rows, cols, piece) in enumerate(
        pasted_pieces(np.repeat(FULL, 2, axis=0), np.array([a.boxes[0], b.boxes[0]]), 60, 40)
    ):
        maps[k, rows, cols] = piece
    for threshold in (0.5, 0.3):
        found = merge_passes([a, b], SIZE, mask_threshold=threshold).masks[:, :, 0]
        np.testing.assert_array_equal(found, maps.mean(axis=0) > threshold)
    assert (maps.mean(axis=0) > 0.3).sum() > (maps.mean(axis=0) > 0.5).sum()


def test_a_pass_counts_once_per_object_and_weak_merges_drop():
    a = _pass([0, 0], [0.9, 0.5], [[10, 10, 30, 30], [11, 10, 31, 30]])  # a duplicate in a
    b = _pass([0], [0.7], [[10, 11, 30, 31]])
    merged = merge_passes([a, b], SIZE)
    assert merged.scores == pytest.approx([0.8])  # (0.9 + 0.7) / 2; a's 0.5 not added
    assert len(merge_passes([a, b], SIZE, min_score=0.85).scores) == 0


def test_attribute_probabilities_merge_score_weighted_and_an_empty_merge_keeps_their_width():
    a = _pass([1], [0.8], [[10, 10, 30, 30]])
    b = _pass([1], [0.4], [[12, 10, 32, 30]])
    a.attributes = np.array([[0.9, 0.0, 0.3]], np.float32)
    b.attributes = np.array([[0.3, 0.6, 0.3]], np.float32)
    merged = merge_passes([a, b], SIZE, min_score=0.05)
    expected = (0.8 * a.attributes[0] + 0.4 * b.attributes[0]) / 1.2
    np.testing.assert_allclose(merged.attributes, [expected], rtol=1e-6)
    # nothing left after the merge (every object under min_score): no row, three attributes
    empty = merge_passes([a, b], SIZE, min_score=0.95)
    assert empty.attributes.shape == (0, 3) and empty.masks.shape == (40, 60, 0)
