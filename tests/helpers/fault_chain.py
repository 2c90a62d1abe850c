"""Kill a short training run at many points, resuming after each, in forked children.

``fault_chain.py SCRIPT REPORT.json POINTS ARGS...``: loads the training script once (the
imports cost more than a tiny run), then in forked children: one uninterrupted reference run
with every kill point traced; then up to POINTS kills, each at a point picked from the trace
(spread over it, seeded) in a child that resumes from the folder's ``checkpoint_last.ckpt``
when there is one, and is killed by SIGKILL when it reaches the point. After every kill the
folder is checked as ``--resume`` leaves it (``settle_run_dir``); the last child runs to the
end. The report holds each kill's point and findings, and whether the final weights and
metrics equal the reference run's. ARGS must contain ``--save-dir``, which this replaces.
"""

import json
import os
import random
import shutil
import signal
import sys
from pathlib import Path

import numpy as np
from script_loader import load_script

from gluonext.common import faults
from gluonext.engine import checkpoint as ck

script, report_path, points, argv = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
module = load_script(script)
save_at = argv.index("--save-dir") + 1
work = Path(argv[save_at])


def run_child(save_dir: Path, kill_at=None, trace=None, resume=False) -> int:
    """Exit code of a forked run (negative: killed by that signal)."""
    args = [*argv]
    args[save_at] = str(save_dir)
    if resume and (save_dir / ck.LAST).is_file():
        args += ["--resume", str(save_dir / ck.LAST)]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            faults.arm(kill_at, trace)
            code = module.run(args)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def folder_problems(save_dir: Path) -> list[str]:
    """What is inconsistent in a run folder after ``settle_run_dir``."""
    problems = []
    ck.settle_run_dir(save_dir)
    leftovers = [p.name for p in save_dir.iterdir() if p.name.startswith(".")]
    if leftovers:
        problems.append(f"left over: {leftovers}")
    last = save_dir / ck.LAST
    if not last.is_file():
        if (save_dir / ck.BEST).exists() or (save_dir / ck.BEST_PARAMS).exists():
            problems.append("best files without a committed epoch")
        return problems
    meta = ck.read_checkpoint(last)["meta"]
    epochs = [row["epoch"] for row in meta["history"]]
    if epochs != list(range(1, meta["epoch"] + 1)):
        problems.append(f"history epochs {epochs} for a checkpoint of epoch {meta['epoch']}")
    lines = (save_dir / "metrics.jsonl").read_text().splitlines()
    if [json.loads(line) for line in lines] != meta["history"]:
        problems.append("metrics.jsonl differs from the checkpoint's history")
    best_epoch = meta["best"]["epoch"]
    if best_epoch:
        if not (save_dir / ck.BEST_PARAMS).is_file():
            problems.append("model_best.params missing")
        best = ck.read_checkpoint(save_dir / ck.BEST)
        if best["meta"]["epoch"] != best_epoch or best["trainer"] is None:
            problems.append(f"checkpoint_best is epoch {best['meta']['epoch']}, not {best_epoch}")
    return problems


def comparable(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("img_per_s", "seconds")} for row in history]


# after a kill past an epoch's commit, a resumed run never passes that epoch's points again:
# per epoch, kills before the commit (each re-runs the epoch), then one after it
AFTER_COMMIT = (
    "write metrics.jsonl", "best promoted", "write metrics.png", "epoch committed",
    "replaced checkpoint_last.ckpt", "metrics written", "best params promoted",
    "replaced metrics.jsonl", "replaced metrics.png",
)  # fmt: skip


def choose_points(labels: list[str], count: int) -> list[str]:
    """About ``count`` points in run order: per epoch some before its commit (rotating over
    the steps) and one after it (each kind once before any repeats)."""
    epochs = sorted({label.split(":")[0] for label in labels}, key=lambda s: int(s.split()[1]))
    per_epoch = max(1, count // len(epochs) - 1)
    rng, used, chosen = random.Random(0), [], []
    for stage in epochs:
        steps = [label for label in labels if label.split(":")[0] == stage]
        commit = next(k for k, label in enumerate(steps) if "replaced checkpoint_last" in label)
        before, after = steps[:commit], steps[commit:]
        chosen += sorted(rng.sample(before, min(per_epoch, len(before))), key=steps.index)
        names = {label.split(": ", 1)[1].split("#")[0]: label for label in after}
        order = sorted(AFTER_COMMIT, key=lambda step: (used.count(step), AFTER_COMMIT.index(step)))
        step = next(s for s in order if s in names)
        used.append(step)
        chosen.append(names[step])
    return chosen


reference_dir, trace = work / "reference", work / "trace.txt"
assert run_child(reference_dir, trace=str(trace)) == 0
labels = trace.read_text().splitlines()
chain = work / "chain"
kills = []
for label in choose_points(labels, points):
    code = run_child(chain, kill_at=label, resume=True)
    kills.append({"point": label, "code": code, "problems": folder_problems(chain)})
final_code = run_child(chain, resume=True)
reference = ck.read_checkpoint(reference_dir / ck.LAST)
final = ck.read_checkpoint(chain / ck.LAST)
same_weights = reference["weights"].keys() == final["weights"].keys() and all(
    np.array_equal(reference["weights"][k], final["weights"][k]) for k in reference["weights"]
)
report = {
    "points_traced": len(labels),
    "kills": kills,
    "final_code": final_code,
    "same_weights": same_weights,
    "same_history": comparable(reference["meta"]["history"])
    == comparable(final["meta"]["history"]),
    "final_problems": folder_problems(chain),
    "killed": sum(k["code"] == -signal.SIGKILL for k in kills),
}
report_path.write_text(json.dumps(report, indent=1))
shutil.rmtree(reference_dir)
