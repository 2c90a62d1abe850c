"""A tool's log files end with its run: a later run in the same process never writes into them."""

import logging
import logging.config
import shutil

from gluonext.common.cli import run_tool
from gluonext.common.logs import setup_logging
from gluonext.errors import GluonextError


def test_a_second_run_never_writes_into_the_first_runs_log(tmp_path, capsys):
    first = tmp_path / "first"

    def logs_then_fails(args):
        setup_logging(first / "train.log").info("epoch 0")
        raise GluonextError("first run's problem")

    def fails_before_its_log(args):
        raise GluonextError("--save-dir taken: is a file, not a folder")

    assert run_tool(logs_then_fails, None) == 2
    assert "error: first run's problem" in (first / "train.log").read_text()
    # what uvicorn does when a server starts in this process: every handler closed, none removed
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    shutil.rmtree(first)  # an output folder removed when its run failed
    capsys.readouterr()
    assert run_tool(fails_before_its_log, None) == 2
    assert not first.exists()
    assert "Logging error" not in capsys.readouterr().err
    assert not [h for h in logging.getLogger().handlers if getattr(h, "_gluonext", False)]
