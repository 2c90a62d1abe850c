"""tools/tune_thresholds.py's refusals (its tuning runs in the instance learning test, on a
trained model)."""

import tune_thresholds as cli

from gluonext.common.cli import run_tool


def test_a_missing_checkpoint_is_one_line(tmp_path, caplog):
    args = cli.parse_args(["--checkpoint", str(tmp_path / "none.ckpt")])
    assert run_tool(cli.main, args) == 2
    assert caplog.messages == [
        f"error: --checkpoint {tmp_path / 'none.ckpt'}: no such file (a .ckpt of "
        "train_mask_rcnn.py)"]  # fmt: skip


def test_the_submission_refuses_a_thresholds_file_it_cannot_read(tmp_path, capsys):
    import imaterialist_submission as submission

    (tmp_path / "predictions.json").write_text("[]")
    (tmp_path / "thresholds.json").write_text('{"settings": {"score": "high"}}')
    for path, message in ((tmp_path / "missing.json", "no such file"),
                          (tmp_path / "thresholds.json", "not a thresholds file")):  # fmt: skip
        args = submission.parse_args(["--predictions", str(tmp_path / "predictions.json"),
                                      "--output", str(tmp_path / "s.csv"), "--thresholds",
                                      str(path)])  # fmt: skip
        assert submission.main(args) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
