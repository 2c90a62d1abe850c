"""Folder or test-list inference for keypoint checkpoints: named-landmark overlays and the
26-column CSV of predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import mxnet as mx

from gluonext.common.drawing import draw_keypoints
from gluonext.common.images import list_inputs, readable_images
from gluonext.engine.checkpoint import load_checkpoint, read_meta
from gluonext.engine.devices import parse_contexts
from gluonext.formats.fashionai import (
    CATEGORIES,
    FASHIONAI_CATEGORY_KEYPOINTS,
    FASHIONAI_KEYPOINTS,
    flip_pairs,
)
from gluonext.keypoints.decode import predict_keypoints
from gluonext.keypoints.evaluate import to_24
from gluonext.keypoints.model import build_simple_pose
from gluonext.keypoints.submission import read_test_list, submission_row, write_submission


@dataclass
class KeypointPredictOptions:
    checkpoint: Path
    output: Path
    input: Path | None = None  # an image or a folder (category from the folder name)
    test_csv: Path | None = None  # FashionAI test list: image_id,image_category
    data_root: Path | None = None  # where test_csv's image_ids live
    category: str | None = None  # for every input image
    ctx: str = "cpu"
    flip_test: bool = False
    scales: tuple[float, ...] = (1.0,)
    progress: bool = True


def load_pose_model(checkpoint: Path, ctx: mx.Context):
    """(network on ``ctx``, meta) of a ``train_keypoints.py`` checkpoint."""
    meta = read_meta(checkpoint)
    if "joints" not in meta:
        raise ValueError(f"{checkpoint}: not a train_keypoints.py checkpoint")
    net = build_simple_pose(meta["network"], len(meta["joints"]))
    net.collect_params().reset_ctx(ctx)
    load_checkpoint(checkpoint, net)
    net.hybridize(static_alloc=True)
    return net, meta


def _inputs(options: KeypointPredictOptions, model_category: str):
    """(path, image_id, category or None) for every image to predict."""
    if options.test_csv:
        root = Path(options.data_root or Path(options.test_csv).parent.parent)
        for image_id, category in read_test_list(options.test_csv):
            if model_category in ("all", category):
                yield root / image_id, image_id, category
        return
    for path in list_inputs(options.input):
        category = options.category or (model_category if model_category != "all" else None)
        if category is None and path.parent.name in CATEGORIES:
            category = path.parent.name  # Images/<category>/<name>.jpg
        in_layout = path.parent.name in CATEGORIES
        image_id = f"Images/{path.parent.name}/{path.name}" if in_layout else path.name
        yield path, image_id, category


def predict_folder(options: KeypointPredictOptions) -> dict:
    """Write ``<stem>_keypoints.jpg`` per image and ``keypoints.csv`` (26 columns); returns
    counts and the skipped inputs with reasons."""
    ctx = parse_contexts(ctx=options.ctx)[0]
    net, meta = load_pose_model(options.checkpoint, ctx)
    names, size = list(meta["joints"]), tuple(meta["input_size"])
    pairs = flip_pairs(names)
    options.output.mkdir(parents=True, exist_ok=True)
    columns = [FASHIONAI_KEYPOINTS.index(n) for n in names]
    items, skipped = list(_inputs(options, meta["category"])), []
    categories = {}
    for path, image_id, category in items:
        if category is None:
            skipped.append((str(path), "category unknown (give --category or Images/<category>/)"))
        else:
            categories[path] = (image_id, category)
    rows = []
    for path, image in readable_images(list(categories), skipped, "predict", options.progress):
        image_id, category = categories[path]
        coords, _ = predict_keypoints(net, image, size, ctx, pairs, options.flip_test,
                                      options.scales)  # fmt: skip
        points = to_24(columns, coords)
        rows.append(submission_row(image_id, category, points))
        own = [k for k, n in enumerate(names) if n in FASHIONAI_CATEGORY_KEYPOINTS[category]]
        picture = draw_keypoints(image, coords[own], [names[k] for k in own],
                                 flip_pairs([names[k] for k in own]))  # fmt: skip
        out = options.output / f"{Path(image_id).stem}_keypoints.jpg"
        cv2.imwrite(str(out), picture[:, :, ::-1])
    write_submission(options.output / "keypoints.csv", rows)
    return {"done": len(rows), "skipped": skipped}
