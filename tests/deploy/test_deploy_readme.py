"""The README's inference example runs as written (only its two paths swapped)."""

import re
from pathlib import Path

import pytest

from gluonext.deploy.export import export_model

pytestmark = pytest.mark.xdist_group("deploy")
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs(checkpoints, photos, tmp_path, capsys):
    section = README.read_text().split("## From checkpoint to product", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "load_predictor" in code and len(code.strip().splitlines()) <= 8
    export_model(checkpoints("seg_fcn"), tmp_path / "parts", images=[str(photos[0])])
    code = code.replace('"exported/parts"', repr(str(tmp_path / "parts")))
    code = code.replace('"photo.jpg"', repr(str(photos[0])))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the documented example
    assert '"fractions"' in capsys.readouterr().out.replace("'", '"')
    assert scope["overlay"].shape == scope["result"].class_map.shape + (3,)
