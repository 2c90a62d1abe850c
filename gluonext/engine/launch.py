"""Start a dist_sync job on one machine: scheduler, servers and workers bound to 127.0.0.1.

MXNet's ``tools/launch.py --launcher local`` replaces loopback with the machine's network
address; this starts every role itself, on loopback only, with the DMLC_* variables ps-lite
reads. For several machines use MXNet's launcher (ssh or mpi), as the README shows.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def role_env(role: str, port: int, num_workers: int, num_servers: int) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DMLC_ROLE": role,
            "DMLC_PS_ROOT_URI": LOOPBACK,
            "DMLC_PS_ROOT_PORT": str(port),
            "DMLC_NUM_WORKER": str(num_workers),
            "DMLC_NUM_SERVER": str(num_servers),
            "DMLC_NODE_HOST": LOOPBACK,
            "DMLC_INTERFACE": "lo",
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "1"),
        }
    )
    return env


def launch_local(
    command: list[str],
    num_workers: int = 2,
    num_servers: int = 1,
    timeout: float | None = None,
    capture: bool = False,
) -> list[subprocess.CompletedProcess]:
    """Run ``command`` as ``num_workers`` workers; returns each worker's completed process."""
    port = free_port()
    helpers = [
        subprocess.Popen(
            [sys.executable, "-c", "import mxnet"],
            env=role_env(role, port, num_workers, num_servers),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for role in ["scheduler"] + ["server"] * num_servers
    ]
    pipe = subprocess.PIPE if capture else None
    workers = [
        subprocess.Popen(
            command,
            env=role_env("worker", port, num_workers, num_servers),
            stdout=pipe,
            stderr=pipe,
            text=True,
        )
        for _ in range(num_workers)
    ]
    deadline = None if timeout is None else time.monotonic() + timeout
    results = []
    try:
        for worker in workers:
            left = None if deadline is None else max(1.0, deadline - time.monotonic())
            out, err = worker.communicate(timeout=left)
            results.append(subprocess.CompletedProcess(command, worker.returncode, out, err))
    finally:
        for proc in workers + helpers:
            if proc.poll() is None:
                proc.terminate()
        for proc in workers + helpers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results
