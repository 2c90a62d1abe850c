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


@pytest.fixture(scope="session")
def tiny_converted(tmp_path_factory):
    """24 small iMaterialist images converted to COCO (16 train / 8 val): for training tests."""
    from gluonext.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample_data import write_imaterialist

    root = tmp_path_factory.mktemp("tiny") / "data"
    write_imaterialist(root, 24, seed=5, size=(64, 80), progress=False)
    convert(ConvertOptions(data_root=root, val_num=8, progress=False))
    return root


def segmentation_args(root, save_dir, *extra, ctx=("--ctx", "cpu"), model="fcn"):
    """A tiny, fast train_segmentation.py command line."""
    return [
        "--model",
        model,
        "--backbone",
        "resnet18",
        "--dataset",
        "imaterialist_parts",
        "--data-root",
        str(root),
        "--base-size",
        "64",
        "--crop-size",
        "48",
        "--batch-size",
        "4",
        "--epochs",
        "2",
        "--lr",
        "0.01",
        *ctx,
        "--workers",
        "0",
        "--save-dir",
        str(save_dir),
        "--no-progress",
        *extra,
    ]
