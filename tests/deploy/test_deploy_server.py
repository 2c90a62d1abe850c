"""tools/serve.py for real on 127.0.0.1: the API, its refusals, and a bounded load of 300
requests from 8 clients (a fifth of them bad) answered as the Python API answers."""

import base64
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from deploy_families import checkpoints, photos  # noqa: F401 - fixtures

from gluonext import load_predictor
from gluonext.common.images import read_rgb
from gluonext.deploy.export import export_model
from gluonext.deploy.loadtest import EXPECTED_STATUS, run_load

pytestmark = pytest.mark.xdist_group("deploy")
REPO = Path(__file__).resolve().parents[2]
LIMIT_MB = 0.05  # the photos are a few kB; the oversized uploads exceed this


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(checkpoints, photos, tmp_path_factory):
    """(base URL, {name: model path}) of a running server with an ONNX export and a .ckpt."""
    folder = tmp_path_factory.mktemp("serve")
    export_model(checkpoints("seg_fcn"), folder / "parts", images=[str(photos[0])])
    models = {"parts": folder / "parts", "landmarks": checkpoints("simple_pose")}
    port = free_port()
    command = [sys.executable, str(REPO / "tools" / "serve.py"), "--port", str(port),
               "--max-upload-mb", str(LIMIT_MB), "--log", str(folder / "serve.log"),
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
    yield url, models
    process.terminate()
    process.wait(timeout=30)


def _post(url, data, name="photo.jpg", **params):
    return requests.post(url, files={"image": (name, data, "image/jpeg")}, params=params,
                         timeout=60)  # fmt: skip


def test_endpoints_answer_as_documented(server, photos):
    url, _ = server
    assert requests.get(f"{url}/health", timeout=5).json() == {"status": "ok", "models": 2}
    listed = {m["name"]: m for m in requests.get(f"{url}/models", timeout=5).json()}
    assert listed["parts"]["task"] == "segmentation" and listed["parts"]["backend"] == "onnx"
    assert (
        listed["landmarks"]["backend"] == "gluon" and "skirt" in listed["landmarks"]["categories"]
    )
    page = requests.get(url, timeout=5)
    assert page.ok and "drop a photo" in page.text.lower()
    photo = photos[0].read_bytes()
    answer = _post(f"{url}/predict/parts", photo, overlay=1).json()
    overlay = cv2.imdecode(np.frombuffer(base64.b64decode(answer["overlay_png"]), np.uint8), 1)
    assert overlay.shape == read_rgb(photos[0]).shape
    assert [e["name"] for e in answer["legend"]][:2] == ["background", "upper body"]
    assert "overlay_png" not in _post(f"{url}/predict/parts", photo).json()
    skirt = requests.post(f"{url}/predict/landmarks", files={"image": ("p.jpg", photo)},
                          data={"category": "skirt"}, timeout=60).json()  # fmt: skip
    assert len(skirt["keypoints"]) == 4 and skirt["category"] == "skirt"


def test_refusals_are_clear_and_the_server_keeps_serving(server, photos):
    url, _ = server
    photo = photos[0].read_bytes()
    missing = _post(f"{url}/predict/nope", photo)
    assert missing.status_code == 404 and "parts" in missing.json()["error"]
    cut = _post(f"{url}/predict/parts", photo[: len(photo) // 2], name="cut.jpg")
    assert cut.status_code == 400 and "cut.jpg: truncated JPEG" in cut.json()["error"]
    text = _post(f"{url}/predict/parts", b"hello", name="notes.txt")
    assert text.status_code == 400 and "not a readable image" in text.json()["error"]
    big = _post(f"{url}/predict/parts", photo + b"\0" * int(LIMIT_MB * 2**20))
    assert big.status_code == 413 and "limit" in big.json()["error"]
    bad_category = requests.post(f"{url}/predict/landmarks", files={"image": ("p.jpg", photo)},
                                 data={"category": "hat"}, timeout=60)  # fmt: skip
    assert bad_category.status_code == 400 and "category 'hat'" in bad_category.json()["error"]
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/predict/parts")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"0\r\n\r\n")
    assert connection.getresponse().status == 411
    assert requests.get(f"{url}/health", timeout=5).ok


def test_a_bounded_load_is_answered_like_the_api(server, photos, capsys):
    url, models = server
    data = [p.read_bytes() for p in photos]
    images = [read_rgb(p) for p in photos]
    direct = {name: load_predictor(path) for name, path in models.items()}
    report = run_load(url, ["parts", "landmarks"], data, count=300, clients=8, bad_fraction=0.2,
                      limit=int(LIMIT_MB * 2**20), seed=0, timeout=120)  # fmt: skip
    assert len(report.answers) == 300
    expected = {}
    for answer in report.answers:
        if answer.kind != "good":
            assert answer.status == EXPECTED_STATUS[answer.kind], answer
            assert answer.payload["error"]
            continue
        assert answer.status == 200, answer
        key = (answer.model, answer.photo)
        if key not in expected:
            expected[key] = direct[answer.model](images[answer.photo]).to_json()
        got = {k: v for k, v in answer.payload.items() if k not in ("milliseconds", "model")}
        assert got == expected[key], key
    assert sum(a.kind != "good" for a in report.answers) == 60
    assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"
    with capsys.disabled():
        print(f"\n[load test] {report.summary()}")
