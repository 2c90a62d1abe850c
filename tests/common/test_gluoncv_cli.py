"""GluonCV's command lines, as its scripts' help and model-zoo training commands write them,
parse to the same settings as this project's own spelling (only data paths swapped)."""

import shlex

import pytest

import train_detection as td
import train_keypoints as tk
import train_mask_rcnn as tm
import train_segmentation as ts
from gluonext.common.gluoncv_cli import SHARED, FlagError, translate


def settings(module, command: str) -> dict:
    args = vars(module.parse_args(shlex.split(command)))
    args.pop("gluoncv_notes")
    return args


def notes(module, command: str) -> list[str]:
    return module.parse_args(shlex.split(command)).gluoncv_notes


def test_translate_converts_values_and_says_so():
    argv, said = translate(["--gpus", "0,1", "--num-workers=4", "--disable-hybridization",
                            "--lr", "0.1"], {})  # fmt: skip
    assert argv == ["--ctx", "gpu:0,gpu:1", "--workers", "4", "--no-hybridize", "--lr", "0.1"]
    assert said[0] == "--gpus 0,1 -> --ctx gpu:0,gpu:1 (GluonCV's GPU list as --ctx)"
    assert translate(["--gpus", ""], {})[0] == ["--ctx", "cpu"]
    with pytest.raises(FlagError, match="--gpus 'a': expected GPU ids"):
        translate(["--gpus", "a"], {})
    with pytest.raises(FlagError, match="--save-prefix needs a value"):
        translate(["--save-prefix"], {})
    with pytest.raises(FlagError, match="--mode 'symbolic'"):
        translate(["--mode", "symbolic"], {})
    assert "--kv-store" in SHARED


def test_segmentation_takes_gluoncvs_training_command(tmp_path):
    data = f"--dataset imaterialist --data-root {tmp_path}"
    gluoncv = (f"{data} --model deeplab --backbone resnet101 --syncbn --ngpus 4 --checkname res101 "
               "--lr 0.01 --epochs 50 --workers 16 --base-size 520 --crop-size 480 --aux "
               "--mode hybrid --weight-decay 0.0001 --log-interval 20 --logging-file seg.log "
               "--no-wd --kvstore device --start_epoch 3 --resume r.ckpt")  # fmt: skip
    native = (f"{data} --model deeplab --backbone resnet101 --syncbn --ngpus 4 --checkname res101 "
              "--lr 0.01 --epochs 50 --workers 16 --base-size 520 --crop-size 480 --aux "
              "--hybridize --weight-decay 0.0001 --log-interval 20 --log-file seg.log "
              "--no-wd --kvstore device --start-epoch 3 --resume r.ckpt")  # fmt: skip
    assert settings(ts, gluoncv) == settings(ts, native)
    assert "--start_epoch 3 -> --start-epoch 3" in notes(ts, gluoncv)
    assert settings(ts, f"{data} --no-cuda")["ctx"] == "cpu"
    assert settings(ts, f"{data} --lr-policy poly --lr-power 0.9")["lr_mode"] == "poly"


def test_mask_rcnn_takes_gluoncv_and_imaterialist_commands(tmp_path):
    data = f"--data-root {tmp_path}"
    gluoncv = (f"{data} --gpus 0,1,2,3,4,5,6,7 --dataset coco --network resnet50_v1b --epochs 26 "
               "--lr-decay-epoch 17,23 --val-interval 2 --use-fpn --num-workers 4 "
               "--kv-store nccl --disable-hybridization --save-prefix runs/x/ --static-alloc "
               "--image-short 800 --image-max-size 1333 --rpn-test-pre-nms 6000")  # fmt: skip
    native = (f"{data} --ctx gpu:0,gpu:1,gpu:2,gpu:3,gpu:4,gpu:5,gpu:6,gpu:7 --dataset coco "
              "--network resnet50_v1b --epochs 26 --lr-decay-epoch 17,23 --val-interval 2 "
              "--use-fpn --workers 4 --kvstore nccl --no-hybridize --save-dir runs/x/ "
              "--short 800 --max-size 1333 --rpn-pre-nms 6000")  # fmt: skip
    assert settings(tm, gluoncv) == settings(tm, native)
    said = notes(tm, gluoncv)
    assert any(n.startswith("--static-alloc -> (hybridized blocks") or
               "--static-alloc" in n for n in said)  # fmt: skip
    assert any("--save-prefix runs/x/ -> --save-dir runs/x/" in n for n in said)
    with pytest.raises(FlagError, match="--norm-layer"):
        tm.parse_args(shlex.split(f"{data} --norm-layer syncbn"))


def test_detection_takes_gluoncvs_ssd_and_yolo_commands(tmp_path):
    data = f"--dataset voc --data-root {tmp_path}"
    ssd = (f"{data} --gpus 0,1,2,3 --network vgg16_atrous --data-shape 300 --batch-size 32 "
           "-j 16 --lr 0.001 --lr-decay-epoch 160,200 --lr-decay 0.1 --epochs 240 "
           "--log-interval 100 --save-interval 10 --val-interval 1 --seed 233")  # fmt: skip
    ssd_native = (f"{data} --ctx gpu:0,gpu:1,gpu:2,gpu:3 --network vgg16_atrous "
                  "--data-shape 300 --batch-size 32 --workers 16 --lr 0.001 "
                  "--lr-decay-epoch 160,200 --lr-decay 0.1 --epochs 240 --log-interval 100 "
                  "--save-interval 10 --val-interval 1 --seed 233")  # fmt: skip
    assert settings(td, ssd) == settings(td, ssd_native)
    yolo = (f"--model yolo3 {data} --network darknet53 --gpus 0,1,2,3,4,5,6,7 --batch-size 64 "
            "-j 32 --log-interval 100 --lr-decay-epoch 160,180 --epochs 200 --syncbn "
            "--warmup-epochs 4 --mixup --no-mixup-epochs 20 --label-smooth --lr-mode step "
            "--num-samples 16551 --no-wd")  # fmt: skip
    yolo_native = (f"--model yolo3 {data} --network darknet53 "
                   "--ctx gpu:0,gpu:1,gpu:2,gpu:3,gpu:4,gpu:5,gpu:6,gpu:7 --batch-size 64 "
                   "--workers 32 --log-interval 100 --lr-decay-epoch 160,180 --epochs 200 "
                   "--syncbn --warmup-epochs 4 --mixup --no-mixup-epochs 20 --label-smooth "
                   "--lr-mode step --no-wd")  # fmt: skip
    assert settings(td, yolo) == settings(td, yolo_native)


def test_keypoints_take_gluoncvs_simple_pose_command(tmp_path):
    gluoncv = (f"--data-dir {tmp_path} --model simple_pose_resnet50_v1b --mode hybrid "
               "--num-joints 13 --lr 0.001 --wd 0.0 --lr-mode step --lr-decay-epoch 90,120 "
               "--num-epochs 140 --batch-size 32 --num-gpus 8 -j 60 --dtype float32 "
               "--warmup-epochs 0 --use-pretrained-base --save-dir params_pose "
               "--logging-file pose.log --log-interval 100 --input-size 256,192")  # fmt: skip
    native = (f"--data-root {tmp_path} --model simple_pose --network resnet50_v1b --hybridize "
              "--num-joints 13 "
              "--lr 0.001 --wd 0.0 --lr-mode step --lr-decay-epoch 90,120 --epochs 140 "
              "--batch-size 256 --ngpus 8 --workers 60 --dtype float32 --warmup-epochs 0 "
              "--pretrained-base zoo --save-dir params_pose --log-file pose.log "
              "--log-interval 100 --input-size 256x192")  # fmt: skip
    assert settings(tk, gluoncv) == settings(tk, native)
    said = notes(tk, gluoncv)
    assert any("--batch-size 32 per device (GluonCV's pose meaning) -> --batch-size 256" in n
               for n in said)  # fmt: skip
    assert settings(tk, f"--data-dir {tmp_path} --batch-size 32")["batch_size"] == 32
    with pytest.raises(FlagError, match="--mean 0.5,0.5,0.5"):
        tk.parse_args(["--mean", "0.5,0.5,0.5"])
    mobile = settings(tk, f"--data-dir {tmp_path} --model mobile_pose_mobilenet1.0")
    assert (mobile["model"], mobile["network"]) == ("mobile_pose", "mobilenet1.0")
    with pytest.raises(FlagError, match="simple_pose_<resnet> and mobile_pose_<network>"):
        tk.parse_args(["--model", "alpha_pose_resnet101_v1b_coco"])
