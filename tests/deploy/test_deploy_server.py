"""tools/serve.py for real on 127.0.0.1: the API, its refusals, a bounded load of 300
requests from 8 clients (a fifth of them bad) answered as the Python API answers,
decompression bombs refused from their headers while good requests are answered, and a full
queue answering 503."""

import base64
import http.client
import io
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import requests
from deploy_families import LIMIT_MB, free_port, running_server
from PIL import Image

from gluonext import load_predictor
from gluonext.common.images import read_rgb
from gluonext.deploy.loadtest import EXPECTED_STATUS, run_load

pytestmark = pytest.mark.xdist_group("deploy")
# what the server adds to the predictor's JSON
SERVER_KEYS = ("milliseconds", "model", "exif_orientation")


def _post(url, data, name="photo.jpg", **params):
    return requests.post(url, files={"image": (name, data, "image/jpeg")}, params=params,
                         timeout=60)  # fmt: skip


def test_endpoints_answer_as_documented(server, photos):
    url, _ = server
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health == {"status": "ok", "models": 3, "busy": 0, "max_queue": 8}
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
    assert answer["exif_orientation"] == 1
    phone = io.BytesIO()  # the photo as a phone stores it: turned, with EXIF orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(read_rgb(photos[0]), 1)).save(phone, "JPEG", exif=exif)
    upright = _post(f"{url}/predict/parts", phone.getvalue(), overlay=1).json()
    overlay = cv2.imdecode(np.frombuffer(base64.b64decode(upright["overlay_png"]), np.uint8), 1)
    assert upright["exif_orientation"] == 6 and overlay.shape == read_rgb(photos[0]).shape
    skirt = requests.post(f"{url}/predict/landmarks", files={"image": ("p.jpg", photo)},
                          data={"category": "skirt"}, timeout=60).json()  # fmt: skip
    assert len(skirt["keypoints"]) == 4 and skirt["category"] == "skirt"
    # instances with Fashionpedia's attribute head: each instance lists its attributes
    assert len(listed["garments"]["attributes"]) == 92
    found = _post(f"{url}/predict/garments", photo).json()
    assert found["task"] == "instances" and found["instances"]
    for instance in found["instances"]:
        assert all(set(a) == {"id", "name", "score"} and 0 <= a["score"] <= 1
                   for a in instance["attributes"])  # fmt: skip


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
        got = {k: v for k, v in answer.payload.items() if k not in SERVER_KEYS}
        assert got == expected[key], key
    assert sum(a.kind != "good" for a in report.answers) == 60
    assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"
    with capsys.disabled():
        print(f"\n[load test] {report.summary()}")


def png_bomb(side: int) -> bytes:
    """A side x side grey PNG of zeros: about 1 MB for 30000 (2.7 GB once decoded as RGB),
    written row by row so the test never holds the pixels."""
    packer = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte 0, then the row's pixels
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def jpeg_bomb(side: int) -> bytes:
    """A 16 x 16 JPEG whose frame header claims side x side pixels."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    frame = data.index(b"\xff\xc0")  # SOF0: marker, length, precision, height, width
    data[frame + 5 : frame + 9] = struct.pack(">HH", side, side)
    return bytes(data)


def peak_memory_bytes(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_decompression_bombs_are_refused_before_decoding_and_the_rest_is_served(
    checkpoints, photos, tmp_path
):
    """PNG and JPEG bombs (30000 x 30000 declared, under the upload limit) sent at once with
    good photos: each bomb gets 413 from its header, each photo the Python API's answer, the
    server's peak memory stays under 2 GiB, and /health answers within a second throughout."""
    model = checkpoints("seg_fcn")
    bombs = {"bomb.png": png_bomb(30000), "bomb.jpg": jpeg_bomb(30000)}
    assert all(len(b) < 4 * 2**20 for b in bombs.values())
    direct = load_predictor(model)
    good = [p.read_bytes() for p in photos[:4]]
    expected = [direct(read_rgb(p)).to_json() for p in photos[:4]]
    with running_server(tmp_path, {"parts": model}, "--max-upload-mb", "4") as (url, process):
        stop, health = threading.Event(), []

        def watch():
            while not stop.is_set():
                started = time.monotonic()
                answer = requests.get(f"{url}/health", timeout=10)
                health.append((answer.status_code, time.monotonic() - started))
                time.sleep(0.1)

        watcher = threading.Thread(target=watch)
        watcher.start()
        jobs = [(name, data) for name, data in bombs.items() for _ in range(3)]
        jobs += [(f"photo{k}.jpg", data) for k, data in enumerate(good) for _ in range(2)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(lambda job: _post(f"{url}/predict/parts", job[1], job[0]),
                                    jobs))  # fmt: skip
        stop.set()
        watcher.join()
        peak = peak_memory_bytes(process.pid)
    for (name, _), answer in zip(jobs, answers, strict=True):
        if name.startswith("bomb"):
            assert answer.status_code == 413, (name, answer.text)
            assert answer.json()["error"].startswith(f"{name}: ")
            assert "900.0 megapixels; the limit is 40 megapixels" in answer.json()["error"]
        else:
            assert answer.status_code == 200, (name, answer.text)
            got = {k: v for k, v in answer.json().items() if k not in SERVER_KEYS}
            assert got == expected[int(name[5])], name
    assert peak < 2 * 2**30, f"server peak memory {peak / 2**30:.2f} GiB"
    assert len(health) >= 3 and all(status == 200 for status, _ in health)
    assert max(seconds for _, seconds in health) < 1.0, health


def test_a_full_queue_answers_503_with_retry_after():
    """--max-queue 1: while one request is being predicted, the next is turned away at once
    with 503 and Retry-After, /health says so, and the first is still answered."""
    import uvicorn

    from gluonext.deploy.server import create_app, predict_payload

    entered, release = threading.Event(), threading.Event()

    class Slow:  # a predictor that holds its request until released
        task, classes = "segmentation", ["background"]
        runner, spec = SimpleNamespace(name="test"), {"input": {"height": 8, "width": 8}}

        def __call__(self, image):
            entered.set()
            release.wait(30)
            return SimpleNamespace(to_json=lambda: {"shape": list(image.shape)})

    app = create_app({"slow": Slow()}, max_queue=1)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.config.port}"
        photo = cv2.imencode(".jpg", np.zeros((12, 20, 3), np.uint8))[1].tobytes()
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(_post, f"{url}/predict/slow", photo)
            assert entered.wait(30)
            turned_away = _post(f"{url}/predict/slow", photo)
            assert turned_away.status_code == 503 and turned_away.headers["Retry-After"] == "1"
            assert "busy" in turned_away.json()["error"]
            assert requests.get(f"{url}/health", timeout=1).json()["busy"] == 1
            release.set()
            assert first.result().status_code == 200
            assert first.result().json()["shape"] == [12, 20, 3]
        assert requests.get(f"{url}/health", timeout=1).json()["busy"] == 0
        # with upright=False (serve.py --ignore-exif) a turned phone photo stays as stored
        phone, exif = io.BytesIO(), Image.Exif()
        exif[0x0112] = 8
        Image.fromarray(np.zeros((12, 20, 3), np.uint8)).save(phone, "JPEG", exif=exif)
        for upright, shape in ((True, [20, 12, 3]), (False, [12, 20, 3])):
            answer = predict_payload(Slow(), phone.getvalue(), "p.jpg", False, 0.5, None, upright)
            assert answer["shape"] == shape and answer["exif_orientation"] == (8 if upright else 1)
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=30)


def test_serve_flip_test_and_scales_reach_each_tasks_predictor(checkpoints, photos):
    import serve

    from gluonext.errors import ModelError

    paths = {"seg": checkpoints("seg_psp"), "inst": checkpoints("mask_rcnn"),
             "pose": checkpoints("simple_pose"), "boxes": checkpoints("ssd")}  # fmt: skip
    argv = [f"--model={name}={path}" for name, path in paths.items()]
    models = serve.load_models(serve.parse_args([*argv, "--flip-test", "--scales", "0.75,1"]))
    assert models["seg"].flip and models["seg"].scales == (0.75, 1.0)
    for name in ("inst", "pose"):
        assert models[name].flip_test and models[name].scales == (0.75, 1.0), name
    assert not hasattr(models["boxes"], "flip_test")
    plain = serve.load_models(serve.parse_args(argv))
    assert not plain["seg"].flip and not plain["inst"].flip_test and plain["pose"].scales == (1.0,)
    # the served predictor answers as the Python API given the same passes
    image = read_rgb(photos[0])
    direct = load_predictor(paths["inst"], flip_test=True, scales=(0.75, 1.0))
    assert models["inst"](image).to_json() == direct(image).to_json()
    assert models["inst"](image).to_json() != plain["inst"](image).to_json()
    exported = SimpleNamespace(task="segmentation", runner=SimpleNamespace(name="onnx"))
    with pytest.raises(ModelError, match="--model parts: --scales needs a .ckpt"):
        serve.set_test_time_passes("parts", exported, True, (0.75, 1.0))
