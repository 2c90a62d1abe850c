"""The web demo: a Starlette app serving loaded predictors.

``GET /`` the page; ``GET /health``; ``GET /models``; ``POST /predict/<model>`` with the photo
in the multipart field ``image`` (and, for keypoints, an optional ``category`` field) returns
the result as JSON; ``?overlay=1`` adds the drawn overlay as a base64 PNG and its legend.
Uploads above the size limit get 413, a request without a length 411, anything that is not a
readable, complete image 400 with the reason; the server keeps serving. An image whose header
declares more than ``max_megapixels`` is refused with 413 before a pixel is decoded
(decompression bombs). Decoding and prediction run in worker threads, at most ``max_queue``
requests at a time (each model's runner lets one thread at a time use its network); past
that a request gets 503 with ``Retry-After``, so memory stays bounded and ``/health`` answers
throughout.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import cv2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from gluonext.common.images import (
    ImageTooLarge,
    check_pixels,
    decode_rgb,
    exif_orientation,
    turn_upright,
)
from gluonext.errors import GluonextError

PAGE = Path(__file__).with_name("page.html")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def describe_model(name: str, predictor) -> dict:
    spec = predictor.spec
    return {
        "name": name,
        "task": predictor.task,
        "backend": predictor.runner.name,
        "classes": predictor.classes,
        "input": [spec["input"]["height"], spec["input"]["width"]],
        "categories": sorted(spec.get("keypoints", {}).get("categories", {})),
        "attributes": [entry["name"] for entry in spec.get("attributes") or []],
    }


def png_base64(rgb) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return base64.b64encode(data.tobytes()).decode("ascii")


def predict_payload(predictor, data: bytes, name: str, overlay: bool, draw_score: float,
                    category=None, upright: bool = True) -> dict:  # fmt: skip
    """The JSON answer for one uploaded image file (what the API gives, plus the overlay if
    asked), decoded here, in the worker thread, and turned upright by its EXIF orientation
    unless ``upright`` is False (the answer says which: ``exif_orientation``, 1 when not
    turned); OSError when it is not a readable image."""
    started = time.perf_counter()
    image = decode_rgb(data, name)
    orientation = exif_orientation(data) if upright else 1
    if orientation != 1:
        image = turn_upright(image, orientation)
    result = predictor(image, category) if predictor.task == "keypoints" else predictor(image)
    payload = result.to_json()
    payload["exif_orientation"] = orientation
    if overlay:
        if predictor.task in ("detection", "instances"):
            picture, legend = result.draw(image, draw_score), result.legend(draw_score)
        else:
            picture, legend = result.draw(image), result.legend()
        payload["overlay_png"] = png_base64(picture)
        payload["legend"] = legend
    payload["milliseconds"] = round(1000 * (time.perf_counter() - started), 1)
    return payload


def create_app(
    models: dict,
    max_upload_bytes: int = 10 * 2**20,
    max_megapixels: float = 40.0,
    max_queue: int = 8,
    upright: bool = True,
) -> Starlette:
    """The ASGI app for ``models`` (name -> predictor); uploads are turned upright by their
    EXIF orientation unless ``upright`` is False."""
    busy = {"requests": 0}  # decoding or predicting now (the event loop alone changes it)

    async def page(request: Request):
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def health(request: Request):
        return JSONResponse({"status": "ok", "models": len(models), "busy": busy["requests"],
                             "max_queue": max_queue})  # fmt: skip

    async def list_models(request: Request):
        return JSONResponse([describe_model(n, p) for n, p in models.items()])

    async def predict(request: Request):
        name = request.path_params["model"]
        if name not in models:
            return _error(404, f"no model {name!r}; loaded: {', '.join(models)}")
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return _error(411, "send the upload with a Content-Length")
        if int(length) > max_upload_bytes:
            return _error(413, f"upload of {length} bytes; the limit is {max_upload_bytes}")
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception as exc:  # noqa: BLE001 - the multipart parser's own errors
            return _error(400, f"not a multipart form upload: {exc}")
        upload = form.get("image")
        if upload is None or not hasattr(upload, "read"):
            return _error(400, "no file in the form field 'image'")
        data = await upload.read()
        filename = upload.filename or "upload"
        try:
            check_pixels(data, max_megapixels * 1e6, filename)
        except ImageTooLarge as exc:
            return _error(413, str(exc))
        overlay = request.query_params.get("overlay") in ("1", "true", "yes")
        try:
            draw_score = float(request.query_params.get("draw_score", 0.5))
        except ValueError:
            return _error(400, "draw_score must be a number")
        category = form.get("category") or None
        if busy["requests"] >= max_queue:
            response = _error(503, f"busy: {max_queue} requests in progress; try again shortly")
            response.headers["Retry-After"] = "1"
            return response
        busy["requests"] += 1
        try:
            payload = await run_in_threadpool(
                predict_payload, models[name], data, filename, overlay, draw_score, category,
                upright,
            )
        except (OSError, GluonextError) as exc:  # not a readable image; a bad category
            return _error(400, str(exc))
        finally:
            busy["requests"] -= 1
        payload["model"] = name
        return JSONResponse(payload)

    routes = [
        Route("/", page),
        Route("/health", health),
        Route("/models", list_models),
        Route("/predict/{model}", predict, methods=["POST"]),
    ]
    return Starlette(routes=routes)
