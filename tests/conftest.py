import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

# the top-level scripts and tools/*.py are importable in tests through pytest's ``pythonpath``
# setting (pyproject.toml); gluonext itself is installed (scripts/setup_env.sh)
REPO = Path(__file__).resolve().parents[1]

# the deploy tests' trained families and server, made once per run: fixtures a test module
# imports are that module's own (one set per module), a plugin's are shared
pytest_plugins = ["deploy_families"]


@pytest.fixture(autouse=True)
def _log_files_end_with_their_test():
    """A test that calls a script's ``main`` directly leaves its log handlers on the root
    logger (``run_tool`` closes them; ``main`` alone does not): closed here, so no later test
    on this worker writes into a folder an earlier one removed."""
    yield
    from gluonext.common.logs import close_logging

    close_logging()


@pytest.fixture(scope="session")
def imaterialist_sample(tmp_path_factory):
    """A small generated iMaterialist dataset (read-only: copy it before changing it)."""
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path_factory.mktemp("imaterialist")
    write_imaterialist(root, 24, seed=3, size=(120, 160), progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_converted(tmp_path_factory):
    """24 small iMaterialist images converted to COCO (16 train / 8 val): for training tests."""
    from gluonext.formats.imaterialist_coco import ConvertOptions, convert
    from gluonext.sample.writers import write_imaterialist

    root = tmp_path_factory.mktemp("tiny") / "data"
    write_imaterialist(root, 24, seed=5, size=(64, 80), progress=False)
    convert(ConvertOptions(data_root=root, val_num=8, progress=False))
    return root


def voc_folder(root, images: int = 10, ratio: float = 0.7):
    """A generated LabelImg folder (96 x 96) with train.txt / test.txt; returns the train
    and test stems."""
    from gluonext.common.splits import split_by_image
    from gluonext.formats.labelimg_tables import write_lines
    from gluonext.sample.writers import write_voc

    write_voc(root, images, seed=6, size=(96, 96), progress=False)
    train, test = split_by_image([p.stem for p in Path(root).glob("*.xml")], ratio, seed=0)
    write_lines(Path(root) / "train.txt", train)
    write_lines(Path(root) / "test.txt", test)
    return train, test


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


def run_training_process(script: str, *argv, threads: int | None = None):
    """A training script's main() in a fresh process (``--crash-at-epoch N`` first makes epoch
    N raise KeyboardInterrupt). ``threads=1`` makes runs bit-repeatable."""
    import os
    import subprocess

    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    helper = REPO / "tests" / "helpers" / "run_training.py"
    command = [sys.executable, str(helper), script, *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)


def run_single_threaded(script: str, *argv):
    """A training script in a fresh single-threaded process: bit-repeatable."""
    return run_training_process(script, *argv, threads=1)


def check_exact_resume(script: str, args_for, tmp_path, min_state_effect: float):
    """Train two epochs; separately, stop after epoch 1 and ``--resume``: the weights must be
    bit-identical. A checkpoint stripped of its optimizer state is refused by ``--resume``
    (naming ``--init-from``); training on from its weights with ``--init-from`` must differ by
    more than ``min_state_effect``, so the test would notice a resume that drops momentum or
    the LR position. ``args_for(save_dir, *extra)`` gives the command line."""
    import json

    import numpy as np

    from gluonext.engine.checkpoint import read_checkpoint

    full = run_single_threaded(script, *args_for(tmp_path / "full"))
    assert full.returncode == 0, full.stderr[-2000:]
    cut = run_single_threaded(script, "--crash-at-epoch", "2", *args_for(tmp_path / "cut"))
    assert cut.returncode != 0 and "KeyboardInterrupt" in cut.stderr
    last = tmp_path / "cut" / "checkpoint_last.ckpt"
    assert read_checkpoint(last)["meta"]["epoch"] == 1
    stateless = tmp_path / "no_state" / "weights_only.ckpt"
    stateless.parent.mkdir()
    with np.load(last) as archive, open(stateless, "wb") as handle:
        np.savez(handle, **{k: archive[k] for k in archive.files if k != "trainer"})
    refused = run_single_threaded(
        script, *args_for(tmp_path / "no_state", "--resume", str(stateless))
    )
    assert refused.returncode == 2 and "--init-from" in refused.stderr, refused.stderr[-2000:]
    done = run_single_threaded(script, *args_for(tmp_path / "cut", "--resume", str(last)))
    assert done.returncode == 0, done.stderr[-2000:]
    control = run_single_threaded(
        script, *args_for(tmp_path / "control", "--init-from", str(stateless), "--epochs", "1")
    )
    assert control.returncode == 0, control.stderr[-2000:]
    reference = read_checkpoint(tmp_path / "full" / "checkpoint_last.ckpt")["weights"]
    resumed = read_checkpoint(tmp_path / "cut" / "checkpoint_last.ckpt")["weights"]
    assert reference.keys() == resumed.keys()
    for name in reference:
        np.testing.assert_array_equal(resumed[name], reference[name], err_msg=name)
    other = read_checkpoint(tmp_path / "control" / "checkpoint_last.ckpt")["weights"]
    difference = max(float(np.abs(other[n] - reference[n]).max()) for n in reference)
    assert difference > min_state_effect
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert (tmp_path / "cut" / "metrics.png").is_file()


@contextmanager
def exclusive(path):
    """Hold an exclusive file lock on ``path`` (across xdist workers and test runs)."""
    import fcntl

    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def check_dist_sync(script: str, args: list, tmp_path, epochs: int, shard: int, rtol: float):
    """Scheduler, server and two workers on 127.0.0.1 (``launch_local``) run ``script`` with
    ``--kvstore dist_sync``: each epoch the workers' shards are disjoint and ``shard`` items
    long, their final weights agree to ``rtol``, and only rank 0 writes checkpoints."""
    import json
    import os
    import tempfile

    import numpy as np

    from gluonext.engine.launch import launch_local

    report = tmp_path / "report"
    report.mkdir()
    helper = REPO / "tests" / "helpers" / "dist_worker.py"
    command = [sys.executable, str(helper), script, *args]
    os.environ["REPORT_DIR"] = str(report)
    # one loopback dist job at a time on this machine (xdist workers, or two test runs): two at
    # once were seen to cross-connect, each worker then syncing with the other job's
    try:
        with exclusive(Path(tempfile.gettempdir()) / "gluonext_dist_tests.lock"):
            results = launch_local(command, num_workers=2, timeout=600, capture=True)
    finally:
        del os.environ["REPORT_DIR"]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["num_workers"] for r in records] == [2, 2]
    for epoch in range(1, epochs + 1):
        a, b = (set(r["shards"][str(epoch)]) for r in records)
        assert len(a) == len(b) == shard and not a & b
    w0, w1 = np.load(report / "rank0.npz"), np.load(report / "rank1.npz")
    assert sorted(w0.files) == sorted(w1.files)
    for name in w0.files:
        np.testing.assert_allclose(w0[name], w1[name], rtol=rtol, atol=rtol / 10, err_msg=name)


# The longest tests (learning proofs) first, in an order for two workers (./test.sh keeps it:
# --no-loadscope-reorder): xdist hands each worker two tests, then one more whenever one ends.
# One worker makes seed 0's pretraining pictures and the ResNet18 (instances, then parsing);
# the other checks seed 1's held-out images meanwhile (making seed 1's pictures) instead of
# waiting for seed 0's, then pretrains MobileNet0.25 (boxes) and trains the landmarks.
_FIRST = ("instances_beat_the_image", "anything_a_model_saw[1]", "parsing_beats_the_image",
          "boxes_beat_the_image", "landmarks_beat_the_image",
          "anything_a_model_saw[0]")  # fmt: skip
# then the longest of the rest (about a minute each), so that short tests end the run on both
# workers instead of one long test on one
_LONG = ("killed_at_21_points", "[deeplabv3b_plus]", "test_resume_after_epoch_1")


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Learning tests first, then the longest others (the rest keep their order). On an xdist
    worker with ``--dist loadgroup``, every ``xdist_group`` test must carry its group in its
    node id by now (the deploy tests share one worker's trained families): pytest 9.2 with
    pytest-xdist 3.8 drops it silently (pytest-dev/pytest-xdist#1386), and those tests then
    fail saying so."""
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if any(item.iter_markers("xdist_group")) and "@" not in item.nodeid:
                item.stash[_UNGROUPED] = (
                    f"--dist loadgroup did not group this test: pytest {pytest.__version__} "
                    "with this pytest-xdist (pytest-dev/pytest-xdist#1386); install "
                    "requirements.txt's pytest")  # fmt: skip

    def rank(item):
        for k, key in enumerate((*_FIRST, *_LONG)):
            if key in item.name:
                return k
        return len(_FIRST) + len(_LONG)

    items.sort(key=rank)


def pytest_runtest_setup(item):
    if _UNGROUPED in item.stash:
        pytest.fail(item.stash[_UNGROUPED], pytrace=False)
