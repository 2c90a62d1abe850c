"""A bounded load on a running server: ``count`` POST /predict requests from ``clients``
threads, a share of them bad uploads (not an image, a truncated JPEG, over the size limit,
no file), every answer kept for checking."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

BAD_KINDS = ("not_an_image", "truncated", "too_large", "no_file")
EXPECTED_STATUS = {"not_an_image": 400, "truncated": 400, "too_large": 413, "no_file": 400}


@dataclass
class Answer:
    index: int
    model: str
    kind: str  # "good" or one of BAD_KINDS
    photo: int  # index into the photos (good requests)
    status: int
    payload: dict
    seconds: float


@dataclass
class LoadReport:
    answers: list[Answer] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests_per_second(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        good = [a for a in self.answers if a.kind == "good"]
        latencies = sorted(a.seconds for a in good) or [0.0]
        p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
        return (f"{len(self.answers)} requests in {self.seconds:.1f} s: "
                f"{self.requests_per_second:.1f} requests/s; {len(good)} good "
                f"(median {1000 * p50:.0f} ms, 95th percentile {1000 * p95:.0f} ms), "
                f"{len(self.answers) - len(good)} bad")  # fmt: skip


def plan(count: int, models: list[str], photos: int, bad_fraction: float, seed: int):
    """(model, kind, photo index) for every request, shuffled with ``seed``."""
    rng = random.Random(seed)
    bad = round(count * bad_fraction)
    kinds = [BAD_KINDS[k % len(BAD_KINDS)] for k in range(bad)] + ["good"] * (count - bad)
    rng.shuffle(kinds)
    return [(models[k % len(models)], kind, rng.randrange(photos)) for k, kind in enumerate(kinds)]


def _body(kind: str, photo: bytes, limit: int):
    if kind == "good":
        return {"image": ("photo.jpg", photo, "image/jpeg")}, None
    if kind == "not_an_image":
        return {"image": ("notes.jpg", b"these are notes, not pixels", "image/jpeg")}, None
    if kind == "truncated":
        return {"image": ("cut.jpg", photo[: len(photo) // 2], "image/jpeg")}, None
    if kind == "too_large":
        return {"image": ("huge.jpg", photo + b"\0" * (limit + 1), "image/jpeg")}, None
    return None, {"comment": "no file"}


def run_load(url: str, models: list[str], photos: list[bytes], count: int = 300,
             clients: int = 8, bad_fraction: float = 0.2, limit: int = 10 * 2**20,
             seed: int = 0, timeout: float = 120.0) -> LoadReport:  # fmt: skip
    """Send the planned requests to ``url`` (``http://127.0.0.1:PORT``)."""
    requests_plan = plan(count, models, len(photos), bad_fraction, seed)
    session_per_thread: dict = {}

    def send(index):
        import threading

        model, kind, photo = requests_plan[index]
        session = session_per_thread.setdefault(threading.get_ident(), requests.Session())
        files, data = _body(kind, photos[photo], limit)
        started = time.perf_counter()
        response = session.post(f"{url}/predict/{model}", files=files, data=data,
                                timeout=timeout)  # fmt: skip
        seconds = time.perf_counter() - started
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": response.text[:200]}
        return Answer(index, model, kind, photo, response.status_code, payload, seconds)

    report = LoadReport()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        report.answers = list(pool.map(send, range(len(requests_plan))))
    report.seconds = time.perf_counter() - started
    return report
