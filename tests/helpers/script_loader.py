"""Load a top-level script (``train_segmentation`` ...) as a module from its file, for the
helpers that run as scripts of their own."""

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str):
    """The module of ``REPO/<name>.py`` (``name`` may have folders: ``bench/learning``),
    registered in ``sys.modules`` under its file's stem."""
    stem = Path(name).name
    spec = importlib.util.spec_from_file_location(stem, REPO / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[stem] = module
    spec.loader.exec_module(module)
    return module
