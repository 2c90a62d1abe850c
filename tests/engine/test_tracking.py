import json

import pytest

from gluonext.engine.tracking import MetricsLog, TrainingDiverged, check_finite


def test_nan_guard_names_the_iteration():
    assert check_finite(0.5, 1, 2) == 0.5
    with pytest.raises(TrainingDiverged, match="epoch 3, iteration 7"):
        check_finite(float("nan"), 3, 7)
    with pytest.raises(TrainingDiverged):
        check_finite(float("inf"), 1, 0)


def test_metrics_log_writes_lines_and_a_plot_and_truncates_on_resume(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for epoch in (1, 2, 3):
        log.append({"epoch": epoch, "train_loss": 1.0 / epoch, "mIoU": 0.1 * epoch, "lr": 0.01})
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    resumed = MetricsLog(tmp_path / "metrics.jsonl")
    resumed.truncate(1)
    resumed.append({"epoch": 2, "train_loss": 0.4})
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
