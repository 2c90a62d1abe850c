"""The GPU install (DEVICE=gpu scripts/setup_env.sh) resolves with every other pin: pip's
resolver in dry-run mode, reading package metadata only (no CUDA wheel is downloaded). It needs
the package index, as the install itself does: where the index is out of reach the test fails
and says so (it is not skipped, so a CI run cannot pass without having checked)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_gpu_pins_resolve_together_with_the_rest(tmp_path):
    cpu = (REPO / "requirements.txt").read_text().splitlines()
    combined = tmp_path / "requirements-combined.txt"  # what setup_env.sh feeds pip for gpu
    combined.write_text(
        "\n".join([line for line in cpu if not line.startswith("mxnet==")])
        + "\n"
        + (REPO / "requirements-gpu.txt").read_text()
    )
    report = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
        "--report", str(report), "-r", str(combined), "-c", str(REPO / "constraints.txt"),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        "pip could not resolve the GPU pins (a package index out of reach shows as "
        f"'from versions: none' for every pin): {done.stderr[-3000:]}"
    )
    chosen = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert chosen["mxnet-cu112"] == "1.9.1" and "mxnet" not in chosen
    assert chosen["numpy"] == "1.23.5" and chosen["gluoncv"] == "0.10.5.post0"
    pinned = [line.split("==") for line in cpu if "==" in line and not line.startswith("mxnet")]
    for name, version in pinned:
        assert chosen.get(name.lower()) == version, name
