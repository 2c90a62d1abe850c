#!/usr/bin/env python
"""The learning table: every task of bench/learning.py, for several seeds, from random weights
and from a pretrained backbone, at one budget; two runs at a time on one core each.

    python bench/learning_table.py --seeds 0 1 2 [--budget full] [--jobs 2] \
        [--output bench/results/learning]

Each run writes OUTPUT/<task>_seed<S>_<start>/result.json and learning.png (bench/learning.py);
OUTPUT/table.md then lists them all (image-blind baseline, last epoch's held-out value, margin,
bar, minutes). A run already done (its result.json exists) is not run again. The backbones'
pictures and pretraining (per seed) come first; runs from random weights fill the other core
meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import learning  # bench/learning.py, beside this script

from gluonext.common.cli import positive_int
from gluonext.common.files import atomic_open

BENCH = Path(__file__).resolve().parent

TASK_ORDER = ("instances", "detection", "keypoints", "segmentation")  # longest first


class Job:
    def __init__(self, name: str, command: list[str], needs: tuple[Job, ...] = (), done=None):
        self.name, self.command, self.needs = name, command, needs
        self.finished = done is not None and done()
        self.started = False


def jobs_for(seeds, budget: str, output: Path, cache: Path,
             starts=("scratch", "pretrained")) -> list[Job]:
    """Pictures, backbones, each task's data and the task runs from each of ``starts``, in
    the order they should start (the runs of a task and seed share its data, made once)."""
    here = str(BENCH / "learning.py")
    prefix = "import learning; from pathlib import Path; "  # run with bench/ on PYTHONPATH
    jobs: list[Job] = []
    for seed in seeds:
        pictures = Job(f"pictures seed {seed}", [sys.executable, "-c", prefix +
                       f"learning.pretraining_data({seed}, Path({str(cache / 'backbones')!r}))"])
        backbones = {}
        for task in TASK_ORDER:
            network = learning.TASKS[task]["network"]
            if network not in backbones:
                backbones[network] = Job(
                    f"{network} seed {seed}",
                    [sys.executable, "-c", prefix + f"learning.backbone({task!r}, {seed}, "
                     f"Path({str(cache)!r}))"], (pictures,))  # fmt: skip
        data = {
            task: Job(f"{task} data seed {seed}", [sys.executable, "-c", prefix +
                      f"learning.make_data({task!r}, learning.TASKS[{task!r}][{budget!r}], "
                      f"{seed}, Path({str(cache)!r}))"])  # fmt: skip
            for task in TASK_ORDER
        }
        pretraining = [pictures, *backbones.values()] if "pretrained" in starts else []
        jobs += [*pretraining, *data.values()]
        for start in [s for s in ("scratch", "pretrained") if s in starts]:
            pretrained = start == "pretrained"
            for task in TASK_ORDER:
                folder = output / f"{task}_seed{seed}_{start}"
                command = [sys.executable, here, "--task", task, "--seed", str(seed),
                           "--budget", budget, "--cache", str(cache), "--output", str(folder),
                           *(["--pretrained"] if pretrained else [])]  # fmt: skip
                needs = (data[task], *((backbones[learning.TASKS[task]["network"]],)
                                       if pretrained else ()))  # fmt: skip
                jobs.append(Job(f"{task} seed {seed} {start}", command, needs,
                                done=(folder / "result.json").is_file))  # fmt: skip
    return jobs


def run_all(jobs: list[Job], workers: int) -> None:
    """Run ``jobs`` on ``workers`` threads, each job once its needs are finished."""
    lock = threading.Condition()
    path = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}

    def next_job():
        for job in jobs:
            if not job.started and not job.finished and all(n.finished for n in job.needs):
                return job
        return None

    def worker():
        while True:
            with lock:
                job = next_job()
                while job is None:
                    if all(j.finished or j.started for j in jobs):
                        return
                    lock.wait()
                    job = next_job()
                job.started = True
            print(f"[start] {job.name}", flush=True)
            done = subprocess.run(job.command, env=env, capture_output=True, text=True)
            failure = done.stderr.strip()[-500:] if done.returncode else ""
            verdict = "done" if done.returncode == 0 else "FAILED"
            print(f"[{verdict}] {job.name} {done.stdout.strip()[-300:]} {failure}", flush=True)
            with lock:
                job.finished = True  # a failed job releases what waits on it; that fails too
                lock.notify_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def table(output: Path) -> str:
    """A Markdown table of every result.json under ``output``."""
    rows = ["| task | start | seed | image-blind | trained (last epoch) | margin | bar | reached "
            "| minutes |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    results = [json.loads(p.read_text()) for p in sorted(output.glob("*/result.json"))]
    results.sort(key=lambda r: (TASK_ORDER.index(r["task"]), not r["pretrained"], r["seed"]))
    for r in results:
        percent = r["metric"] == "NE"

        def value(x, percent=percent):
            return f"{x:.1f}%" if percent else f"{x:.3f}"

        margin = (f"{r['trained'] / r['baseline']:.2f} x" if percent
                  else f"+{r['margin']:.3f}")  # fmt: skip
        rows.append(
            f"| {r['task']} ({r['metric']}) | {'pretrained' if r['pretrained'] else 'scratch'} "
            f"| {r['seed']} | {value(r['baseline'])} | {value(r['trained'])} | {margin} "
            f"| {value(r['bar'])} | {'**yes**' if r['reached'] else 'no'} "
            f"| {r['seconds'] / 60:.1f} |"
        )
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budget", choices=("full", "suite"), default="full")
    p.add_argument("--starts", nargs="+", choices=("scratch", "pretrained"),
                   default=["scratch", "pretrained"], help="from random weights, pretrained")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs at a time (one core each)")
    p.add_argument("--output", default=str(learning.REPO / "bench" / "results" / "learning"))
    p.add_argument("--cache", default=str(learning.CACHE))
    args = p.parse_args(argv)
    output, cache = Path(args.output), Path(args.cache)
    output.mkdir(parents=True, exist_ok=True)
    run_all(jobs_for(args.seeds, args.budget, output, cache, args.starts), args.jobs)
    text = table(output)
    with atomic_open(output / "table.md", "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
