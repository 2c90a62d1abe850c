import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))


@pytest.fixture(scope="session")
def imaterialist_sample(tmp_path_factory):
    """A small generated iMaterialist dataset (read-only: copy it before changing it)."""
    from gluonext.sample_data import write_imaterialist

    root = tmp_path_factory.mktemp("imaterialist")
    write_imaterialist(root, 24, seed=3, size=(120, 160), progress=False)
    return root
