"""GluonCV's schedule flags change the LR per iteration as GluonCV's do."""

import math
from types import SimpleNamespace

import pytest

from gluonext.engine.schedules import schedule_from_args


def args(**flags):
    defaults = dict(epochs=10, lr_mode=None, lr_power=None, lr_decay_period=None, warmup_lr=None)
    return SimpleNamespace(**{**defaults, **flags})


def test_step_at_epochs_or_every_period():
    at = schedule_from_args(args(), 0.1, 5, "step", 0.0, 0, decay_epochs=(4, 8), decay=0.1)
    assert [at(t) for t in (0, 19, 20, 39, 40)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])
    every = schedule_from_args(args(lr_decay_period=3), 0.1, 5, "step", 0.0, 0, (4, 8), 0.5)
    assert [every(t) for t in (14, 15, 30, 45)] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def test_poly_power_and_cosine():
    poly = schedule_from_args(args(lr_mode="poly", lr_power=2.0), 0.1, 10, "step", 0.0, 0)
    assert poly(50) == pytest.approx(0.1 * 0.5**2)
    cosine = schedule_from_args(args(lr_mode="cosine"), 0.1, 10, "step", 0.0, 0)
    assert cosine(0) == pytest.approx(0.1) and cosine(100) == pytest.approx(0.0, abs=1e-12)
    assert cosine(25) == pytest.approx(0.1 * (1 + math.cos(math.pi / 4)) / 2)


def test_warmup_lr_is_the_first_rate():
    schedule = schedule_from_args(args(warmup_lr=0.01), 0.1, 10, "poly", 0.1, warmup_epochs=2)
    assert schedule(0) == pytest.approx(0.01)
    assert schedule(10) == pytest.approx(0.055)
    assert schedule(20) == pytest.approx(0.1)
