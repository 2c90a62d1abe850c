#!/usr/bin/env python
"""Inference speed of one model per task as the hybridized Gluon network of its checkpoint,
as the exported MXNet symbol (SymbolBlock), in ONNX Runtime and as ONNX Runtime INT8, at
batch 1 and 8, on this CPU, in one run: the network alone on a prepared batch (pre- and
post-processing are the same code for all), with the INT8 model's metric change on the
run's held-out images (mIoU and VOC07 mAP in points, NE in %) from its export.

Each model is made by its training script (one epoch on a few generated images, so the
weights are real checkpoints but the figures are about speed only) and exported with
tools/export_model.py; R-CNN families take one image at a time (Mask R-CNN gets no INT8
model yet). ``--checkpoint TASK=PATH`` measures a trained checkpoint instead (its run's data
must be where it trained), which makes the INT8 metric change meaningful.

    python bench/inference.py [--tasks segmentation,detection,keypoints,instances] [--seconds 4]
    python bench/inference.py --tasks segmentation,detection,keypoints \
        --checkpoint segmentation=runs/parser/checkpoint_last.ckpt ...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gluonext import load_predictor
from gluonext.common.files import write_json
from gluonext.common.images import read_rgb
from gluonext.deploy.export import FORMATS, Int8Options, export_model
from gluonext.engine.checkpoint import read_meta
from gluonext.formats.labelimg_tables import write_lines
from gluonext.sample.writers import write_fashionai, write_imaterialist, write_voc

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "inference"

# task -> (model label, training script, its arguments, data kind)
MODELS = {
    "segmentation": ("DeepLabV3 ResNet-18, 256x256", "train_segmentation.py", [
        "--model", "deeplabv3", "--backbone", "resnet18", "--dataset", "imaterialist_parts",
        "--base-size", "256", "--crop-size", "128", "--batch-size", "4"], "parts"),
    "detection": ("SSD MobileNet1.0, 512x512", "train_detection.py", [
        "--model", "ssd", "--network", "mobilenet1.0", "--data-shape", "512", "--dataset", "voc",
        "--batch-size", "2"], "voc"),
    "keypoints": ("SimplePose ResNet-18, 256x192", "train_keypoints.py", [
        "--category", "all", "--network", "resnet18_v1b", "--input-size", "256x192",
        "--batch-size", "4"], "fashionai"),
    "instances": ("Mask R-CNN ResNet-18 FPN, short side 320", "train_mask_rcnn.py", [
        "--network", "resnet18_v1b", "--use-fpn", "--categories", "main", "--short", "320",
        "--max-size", "480", "--rcnn-num-samples", "32", "--rpn-pre-nms", "1000",
        "--rpn-post-nms", "100"], "parts"),
}  # fmt: skip


def data_folder(kind: str) -> Path:
    folder = DATA / kind
    if kind == "parts" and not (folder / "annotations" / "instances_val.json").is_file():
        write_imaterialist(folder, 8, seed=0, size=(192, 256), progress=False)
        subprocess.run([sys.executable, str(REPO / "tools" / "convert_imaterialist_to_coco.py"),
                        "--data-root", str(folder), "--val-num", "2", "--no-progress"],
                       check=True)  # fmt: skip
    if kind == "voc" and not (folder / "test.txt").is_file():
        write_voc(folder, 6, seed=0, size=(384, 512), progress=False)
        stems = sorted(p.stem for p in folder.glob("*.xml"))
        write_lines(folder / "train.txt", stems)
        write_lines(folder / "test.txt", stems)
    if kind == "fashionai" and not (folder / "Annotations" / "train.csv").is_file():
        write_fashionai(folder, 8, seed=0, size=(192, 256), progress=False)
    return folder


def checkpoint(task: str) -> Path:
    label, script, args, kind = MODELS[task]
    run = DATA / f"run_{task}"
    if not (run / "checkpoint_last.ckpt").is_file():
        command = [sys.executable, str(REPO / script), *args, "--data-root",
                   str(data_folder(kind)), "--epochs", "1", "--no-val", "--ctx", "cpu",
                   "--workers", "0", "--no-progress", "--save-dir", str(run)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{script} failed:\n{done.stderr[-2000:]}")
    return run / "checkpoint_last.ckpt"


def images_per_second(runner, batch: np.ndarray, seconds: float) -> float:
    runner(batch)  # warm-up (graph building, memory planning)
    runner(batch)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        runner(batch)
        count += 1
    return count * len(batch) / (time.perf_counter() - start)


def measure(task: str, seconds: float, trained: Path | None = None) -> dict:
    if trained:  # parity on the run's own pictures; timing on its first held-out one
        from gluonext.deploy.held_out import run_data

        ckpt, parity = trained, None
        image = run_data(ckpt).held_out.load(0)[0]
    else:
        ckpt = checkpoint(task)
        photos = sorted(p for p in data_folder(MODELS[task][3]).rglob("*.jpg"))
        parity, image = [str(photos[0])], read_rgb(photos[0])
    export = DATA / (f"export_{task}" + ("_trained" if trained else ""))
    # every form is written whatever INT8 loses (the drop is what is reported here)
    report = export_model(ckpt, export, FORMATS, images=parity, int8=Int8Options(max_drop=100.0))
    gluon = load_predictor(ckpt)
    batch1, _ = gluon.prepare(image)
    batch1 = batch1[:1]
    runners = {"gluon": gluon.runner}
    for backend in report.written:
        runners[backend] = load_predictor(export, backend=backend).runner
    sizes = (1,) if gluon.any_input_size else (1, 8)
    rates = {}
    for size in sizes:
        batch = np.repeat(batch1, size, axis=0)
        for name, runner in runners.items():
            rates[f"{name}@{size}"] = round(images_per_second(runner, batch, seconds), 2)
    label = MODELS[task][0]
    if trained:
        meta = read_meta(ckpt)
        network = meta["args"].get("network") or meta["args"].get("backbone")
        height, width = gluon.input_size
        label = f"{meta.get('model', 'simple_pose')} {network}, {height}x{width}, trained"
    return {"model": label, "trained": bool(trained), "img_per_s": rates,
            "int8": report.quantized.get("int8"), "refused": report.refused}  # fmt: skip


def table(results: dict) -> str:
    lines = ["| task | model | batch | Gluon img/s | symbol | ONNX Runtime | ONNX Runtime INT8 "
             "| INT8 metric (fp32 -> INT8) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for task, found in results.items():
        rates = found["img_per_s"]
        for size in (1, 8):
            if f"gluon@{size}" not in rates:
                continue
            base = rates[f"gluon@{size}"]
            cells = []
            for name in ("symbol", "onnx", "onnx-int8"):
                rate = rates.get(f"{name}@{size}")
                cells.append(f"{rate:.1f} ({rate / base:.2f}x)" if rate else "not exported")
            int8 = found.get("int8")
            if not found.get("trained"):
                cells.append("(one-epoch model: speed only)")
            else:
                cells.append(f"{int8['metric']} {int8['fp32']:.2f} -> {int8['int8']:.2f}"
                             if int8 else "-")  # fmt: skip
            lines.append(
                f"| {task} | {found['model']} | {size} | {base:.1f} | {' | '.join(cells)} |"
            )
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(MODELS))
    p.add_argument("--seconds", type=float, default=4.0, help="timing per backend and batch")
    p.add_argument("--checkpoint", action="append", default=[], metavar="TASK=PATH",
                   help="measure this trained checkpoint for TASK (repeat per task)")
    p.add_argument("--output", default=str(DATA / "results.json"))
    args = p.parse_args()
    trained = {}
    for item in args.checkpoint:
        task, _, path = item.partition("=")
        if task not in MODELS or not Path(path).is_file():
            p.error(f"--checkpoint {item}: expected TASK=PATH of a checkpoint, TASK one of "
                    f"{','.join(MODELS)}")
        trained[task] = Path(path)
    results = {}
    for task in args.tasks.split(","):
        results[task] = measure(task, args.seconds, trained.get(task))
        print(task, json.dumps(results[task]), flush=True)
    write_json(Path(args.output), results, indent=2)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
