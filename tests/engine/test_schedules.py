import pytest

from gluonext.engine.schedules import WarmupSchedule


def test_poly_with_warmup():
    s = WarmupSchedule(0.1, total_iters=110, warmup_iters=10, mode="poly", power=0.9)
    assert s(0) == pytest.approx(0.01)
    assert s(5) == pytest.approx(0.055)
    assert s(10) == pytest.approx(0.1)
    assert s(60) == pytest.approx(0.1 * 0.5**0.9)
    assert s(110) == pytest.approx(0.0) and s(500) == pytest.approx(0.0)


def test_step():
    s = WarmupSchedule(1.0, total_iters=100, mode="step", steps=(10, 20), factor=0.1)
    assert [s(0), s(10), s(25)] == pytest.approx([1.0, 0.1, 0.01])
