import mxnet as mx
import numpy as np
import pytest

from gluonext.common.nms import box_nms


@pytest.mark.parametrize("trial", range(12))
def test_matches_mxnets_box_nms_with_gluoncvs_detector_settings(trial):
    rs = np.random.RandomState(trial)
    n = 600
    ids = rs.randint(-1, 4, n).astype(np.float32)
    scores = rs.uniform(size=n).astype(np.float32)
    xy, wh = rs.uniform(0, 80, (n, 2)), rs.uniform(5, 40, (n, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    rows = np.concatenate([ids[:, None], scores[:, None], boxes], 1)
    theirs = mx.nd.contrib.box_nms(
        mx.nd.array(rows[None]), overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0,
        score_index=1, coord_start=2, force_suppress=False,
    ).asnumpy()[0][:100]  # fmt: skip
    theirs = theirs[theirs[:, 0] >= 0]
    ours = rows[box_nms(ids, scores, boxes)]
    assert len(ours) == len(theirs) > 20
    np.testing.assert_array_equal(ours, theirs)


def test_suppresses_within_a_class_only():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    ids = np.array([0, 0, 1], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    assert box_nms(ids, scores, boxes).tolist() == [0, 2]
    assert box_nms(ids, scores, boxes, keep_top=1).tolist() == [0]
    assert box_nms(ids, scores, boxes, valid_thresh=0.85).tolist() == [0]
