"""One small trained checkpoint per model family (one epoch on generated data, made on first
use and shared by the deploy tests, which run on one xdist worker: ``xdist_group``), and the
server the server and browser tests share. A plugin of ``tests/conftest.py``: its fixtures are
shared by every module (imported into a module, a fixture would be that module's own, made
again per module)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import segmentation_args, voc_folder

import train_detection as td
import train_keypoints as tk
import train_mask_rcnn as tm
import train_segmentation as ts
from gluonext.deploy.export import export_model

REPO = Path(__file__).resolve().parents[2]
LIMIT_MB = 0.05  # the photos are a few kB; the oversized uploads exceed this

DETECTION = {
    "ssd": ["--model", "ssd", "--network", "mobilenet0.25", "--data-shape", "300",
            "--batch-size", "4", "--lr", "0.01"],
    "yolo3": ["--model", "yolo3", "--network", "mobilenet0.25", "--data-shape", "128",
              "--batch-size", "4", "--lr", "0.01"],
    "faster_rcnn": ["--model", "faster_rcnn", "--network", "resnet18_v1b", "--data-shape",
                    "160", "--max-size", "240", "--rcnn-num-samples", "16", "--rpn-post-nms",
                    "40"],
}  # fmt: skip


class Checkpoints:
    def __init__(self, root, tiny_converted):
        self.root, self.parts = root, tiny_converted
        self.made = {}

    def __call__(self, family: str):
        if family not in self.made:
            self.made[family] = self._train(family)
        return self.made[family]

    def data(self, kind: str):
        folder = self.root / kind
        if not folder.exists():
            from gluonext.sample.writers import write_fashionai

            if kind == "voc":
                voc_folder(folder, images=12)
            else:
                write_fashionai(folder, 24, seed=8, size=(96, 128), progress=False)
        return folder

    def _train(self, family):
        run = self.root / family
        common = ["--epochs", "1", "--no-val", "--ctx", "cpu", "--workers", "0", "--no-progress",
                  "--save-dir", str(run)]  # fmt: skip
        if family.startswith("seg_"):
            args = segmentation_args(self.parts, run, "--epochs", "1", "--no-val",
                                     model=family[4:])  # fmt: skip
            assert ts.main(ts.parse_args(args)) == 0
        elif family in DETECTION:
            args = [*DETECTION[family], "--dataset", "voc", "--data-root", str(self.data("voc"))]
            assert td.run([*args, *common]) == 0
        elif family == "simple_pose":
            args = ["--category", "all", "--network", "resnet18_v1b", "--input-size", "64x64",
                    "--data-root", str(self.data("fashionai")), "--batch-size", "4"]  # fmt: skip
            assert tk.run([*args, *common]) == 0
        elif family == "mask_rcnn":
            args = ["--network", "resnet18_v1b", "--use-fpn", "--data-root", str(self.parts),
                    "--categories", "main", "--short", "96", "--max-size", "160",
                    "--rcnn-num-samples", "32", "--rpn-pre-nms", "500", "--rpn-post-nms", "50",
                    "--lr", "0.01", "--attributes"]  # fmt: skip
            assert tm.run([*args, *common]) == 0
        else:
            raise KeyError(family)
        return run / "checkpoint_last.ckpt"


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory, tiny_converted):
    """``checkpoints("seg_psp" | "ssd" | "yolo3" | "faster_rcnn" | "simple_pose" |
    "mask_rcnn" | "seg_<model>")``: a trained checkpoint's path (the Mask R-CNN with
    Fashionpedia's attribute head, so every deploy path carries its fifth output)."""
    return Checkpoints(tmp_path_factory.mktemp("families"), tiny_converted)


@pytest.fixture(scope="session")
def photos(tiny_converted, checkpoints):
    """Photos of every kind the families were trained on (the parts images' validation split)."""
    import json

    listed = json.loads((tiny_converted / "annotations" / "instances_val.json").read_text())
    val = [tiny_converted / "train" / image["file_name"] for image in listed["images"][:3]]
    voc = sorted(checkpoints.data("voc").glob("*.jpg"))[-2:]
    fashion = sorted(checkpoints.data("fashionai").rglob("*.jpg"))[-2:]
    return [*val, *voc, *fashion]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(folder, models: dict, *flags):
    """tools/serve.py in its own process on a free loopback port: (base URL, process)."""
    port = free_port()
    command = [sys.executable, str(REPO / "tools" / "serve.py"), "--port", str(port),
               "--log", str(folder / "serve.log"), *flags,
               *[f"--model={n}={p}" for n, p in models.items()]]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                break
        except requests.ConnectionError:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read().decode()[-2000:]) from None
            time.sleep(0.5)
    else:
        process.kill()
        raise AssertionError("the server did not come up within 120 s")
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def server(checkpoints, photos, tmp_path_factory):
    """(base URL, {name: model path}) of a running server with an ONNX export and two .ckpt
    files, started once for the server and browser tests."""
    folder = tmp_path_factory.mktemp("serve")
    export_model(checkpoints("seg_fcn"), folder / "parts", images=[str(photos[0])])
    models = {"parts": folder / "parts", "landmarks": checkpoints("simple_pose"),
              "garments": checkpoints("mask_rcnn")}  # fmt: skip
    # one epoch leaves the Mask R-CNN's scores under the default 0.05
    with running_server(folder, models, "--max-upload-mb", str(LIMIT_MB),
                        "--min-score", "0.01") as (url, _):  # fmt: skip
        yield url, models
