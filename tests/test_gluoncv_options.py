"""The options GluonCV users reach for, each shown to have its effect: step-level logging and
TensorBoard events, --no-wd, periodic checkpoints that resume, --start-epoch, and clear
refusals (float16 and --syncbn on CPU, horovod missing, a flag for another model)."""

import mxnet as mx
import numpy as np
import pytest
from conftest import segmentation_args

import train_detection as td
import train_segmentation as ts
from gluonext.engine.loop import exclude_from_weight_decay
from gluonext.engine.monitor import read_events


def run(root, save_dir, *extra):
    return ts.run(segmentation_args(root, save_dir, *extra))


def test_log_interval_and_tensorboard_events(tiny_converted, tmp_path, caplog):
    assert run(tiny_converted, tmp_path / "r", "--log-interval", "2", "--epochs", "2") == 0
    messages = [r.getMessage() for r in caplog.records]
    lines = [m for m in messages if m.startswith("epoch ") and " iteration " in m]
    assert lines[0].startswith("epoch 1 iteration 2/4: ") and "img/s, loss " in lines[0]
    assert " lr " in lines[0] and len(lines) == 4
    events = read_events(tmp_path / "r" / "tensorboard")
    assert [step for step, _ in events["train/loss"]] == list(range(1, 9))
    assert len(events["train/lr"]) == 8 and len(events["train/img_per_s"]) == 4
    assert [step for step, _ in events["epoch/mIoU"]] == [1, 2]
    assert "epoch/baseline_mIoU" in events and "epoch/train_loss" in events
    assert events["val/image0"][0][1].startswith("image ")  # an overlay per validation
    assert len(events["val/image2"]) == 2


def test_no_tensorboard_writes_no_events(tiny_converted, tmp_path):
    assert run(tiny_converted, tmp_path / "r", "--epochs", "1", "--no-tensorboard") == 0
    assert not (tmp_path / "r" / "tensorboard").exists()


def test_no_wd_spares_norm_layers_and_biases():
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(2, 1, in_channels=1), mx.gluon.nn.BatchNorm(in_channels=2))
    net.initialize()
    for param in net.collect_params().values():
        param.set_data(mx.nd.ones(param.shape))
    assert exclude_from_weight_decay(net) == 3  # conv bias, gamma, beta
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0, "wd": 0.1})
    with mx.autograd.record():
        out = net(mx.nd.zeros((1, 1, 2, 2))).sum() * 0
    out.backward()
    trainer.step(1)
    params = {k.split("_", 1)[1]: v.data().asnumpy() for k, v in net.collect_params().items()}
    assert np.allclose(params["weight"], 0.9)  # decayed: 1 - lr * wd
    assert np.allclose(params["gamma"], 1.0) and np.allclose(params["bias"], 1.0)


def test_save_interval_keeps_the_last_k_and_they_resume(tiny_converted, tmp_path):
    assert run(tiny_converted, tmp_path / "r", "--epochs", "3", "--no-val", "--save-interval",
               "1", "--keep-checkpoints", "2") == 0  # fmt: skip
    kept = sorted(p.name for p in (tmp_path / "r").glob("checkpoint_epoch*.ckpt"))
    assert kept == ["checkpoint_epoch0002.ckpt", "checkpoint_epoch0003.ckpt"]
    again = tmp_path / "again"
    code = run(tiny_converted, again, "--epochs", "3", "--no-val", "--resume",
               str(tmp_path / "r" / "checkpoint_epoch0002.ckpt"), "--start-epoch", "3")  # fmt: skip
    assert code == 0
    from gluonext.engine.checkpoint import read_checkpoint

    ours, theirs = (read_checkpoint(d / "checkpoint_last.ckpt") for d in (tmp_path / "r", again))
    assert ours["meta"]["epoch"] == theirs["meta"]["epoch"] == 3
    for name, value in ours["weights"].items():  # the copy resumed exactly
        np.testing.assert_allclose(theirs["weights"][name], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--dtype", "float16"), "--dtype float16: MXNet's CPU kernels train in float32 only"),
        (("--amp",), "--amp: MXNet's CPU kernels train in float32 only"),
        (("--horovod",), "--horovod: horovod is not installed"),
        (("--start-epoch", "2"), "--start-epoch 2: give the checkpoint with --resume"),
        (("--pretrained",), "--pretrained: GluonCV's pretrained weights come with --model-zoo"),
        (("--syncbn",), "--syncbn needs GPU contexts"),
    ],
)
def test_refusals_name_the_flag(tiny_converted, tmp_path, capsys, caplog, extra, message):
    assert run(tiny_converted, tmp_path / "r", "--epochs", "1", *extra) == 2
    assert message in capsys.readouterr().err + caplog.text


def test_start_epoch_must_match_the_checkpoint(tiny_converted, tmp_path, capsys, caplog):
    assert run(tiny_converted, tmp_path / "r", "--epochs", "1", "--no-val") == 0
    ckpt = str(tmp_path / "r" / "checkpoint_last.ckpt")
    assert run(tiny_converted, tmp_path / "s", "--resume", ckpt, "--start-epoch", "5") == 2
    assert "ends at epoch 1, so training continues at 2" in capsys.readouterr().err + caplog.text


@pytest.mark.parametrize(
    "model, flag, says",
    [
        ("ssd", "--mixup", "--mixup applies to yolo3 here, not to --model ssd"),
        ("faster_rcnn", "--label-smooth", "--label-smooth applies to yolo3 here"),
        ("yolo3", "--augment=flip", "--augment flip applies to ssd here, not to --model yolo3"),
        ("faster_rcnn", "--syncbn", "--syncbn applies to ssd and yolo3 here"),
    ],
)
def test_a_flag_for_another_model_is_refused(model, flag, says, capsys):
    with pytest.raises(SystemExit) as stop:
        td.parse_args(["--model", model, flag])
    assert stop.value.code == 2 and says in capsys.readouterr().err


def test_checkpoint_iters_resume_mid_epoch(tiny_converted, tmp_path, caplog):
    """A checkpoint every 3 iterations (4 an epoch); resuming the first continues epoch 1 at
    its fourth batch, in the same order, then epoch 2."""
    assert run(tiny_converted, tmp_path / "r", "--no-val", "--checkpoint-iters", "3",
               "--keep-checkpoints", "5") == 0  # fmt: skip
    kept = sorted(p.name for p in (tmp_path / "r").glob("checkpoint_iter*.ckpt"))
    assert kept == ["checkpoint_iter0000003.ckpt", "checkpoint_iter0000006.ckpt"]
    from gluonext.engine.checkpoint import read_meta

    meta = read_meta(tmp_path / "r" / "checkpoint_iter0000003.ckpt")
    assert (meta["epoch"], meta["resume_iteration"]) == (0, 3)
    caplog.clear()
    resumed = run(tiny_converted, tmp_path / "again", "--no-val", "--log-interval", "1",
                  "--resume", str(tmp_path / "r" / "checkpoint_iter0000003.ckpt"))  # fmt: skip
    assert resumed == 0
    lines = [r.getMessage() for r in caplog.records if " iteration " in r.getMessage()]
    assert "in epoch 1 after 3 iteration(s)" in caplog.text
    assert [m.split(":")[0] for m in lines if m.startswith("epoch ")] == [
        "epoch 1 iteration 4/4", *[f"epoch 2 iteration {k}/4" for k in range(1, 5)]]  # fmt: skip
    records = (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 2


def test_no_wd_reaches_the_optimizer_in_a_run(tiny_converted, tmp_path, caplog):
    assert run(tiny_converted, tmp_path / "r", "--epochs", "1", "--no-val", "--no-wd") == 0
    assert "--no-wd: no weight decay on" in caplog.text
