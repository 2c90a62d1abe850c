import pytest

from gluonext.engine.tracking import TrainingDiverged, check_finite


def test_nan_guard_names_the_iteration():
    assert check_finite(0.5, 1, 2) == 0.5
    with pytest.raises(TrainingDiverged, match="epoch 3, iteration 7"):
        check_finite(float("nan"), 3, 7)
    with pytest.raises(TrainingDiverged):
        check_finite(float("inf"), 1, 0)
