"""Real distributed engines on 127.0.0.1 for extraction, each its own processes in a working directory
of its choosing (not the launcher's):

* :func:`worker_pool` — Beam's SDK worker pool (``worker_pool_main``), what a Flink/Spark task manager
  or Dataflow Runner v2 runs beside the engine; ``tinysign extract --runner portable --address``.
* :func:`dask_cluster` — a ``dask.distributed`` scheduler and worker processes, started with Dask's own
  CLI as on a cluster; ``tinysign extract --runner dask --address``.

Both inherit this environment with this interpreter's ``bin/`` first on ``PATH``: the worker pool
starts each SDK worker as ``python -c ...`` from ``PATH``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _processes(commands: list[list[str]], cwd: Path) -> Iterator[list[subprocess.Popen]]:
    """Start ``commands`` in ``cwd`` (logs in ``cwd/<n>.log``), each in its own process group, and
    stop every process of those groups on exit (SDK workers and Dask workers are their children)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    started: list[subprocess.Popen] = []
    try:
        for n, command in enumerate(commands):
            with open(cwd / f"{n}.log", "wb") as log:
                options = {"stdout": log, "stderr": subprocess.STDOUT, "start_new_session": True}
                started.append(subprocess.Popen(command, cwd=cwd, env=env, **options))
        yield started
    finally:
        for process in reversed(started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _wait_for(ready, processes: list[subprocess.Popen], cwd: Path, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        dead = [p for p in processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "".join((cwd / f"{n}.log").read_text()[-2000:] for n in range(len(processes)))
            raise RuntimeError(f"{what} did not start in {cwd}:\n{logs}")
        time.sleep(0.2)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@contextmanager
def worker_pool(cwd: Path) -> Iterator[str]:
    """Beam's SDK worker pool started in ``cwd``; yields its address ``localhost:PORT``."""
    cwd.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"]
    with _processes([command], cwd) as processes:
        _wait_for(lambda: _answers(port), processes, cwd, "the SDK worker pool")
        yield f"localhost:{port}"


@contextmanager
def dask_cluster(cwd: Path, workers: int = 2) -> Iterator[str]:
    """A Dask scheduler and ``workers`` single-threaded worker processes (each under a nanny, as
    ``dask worker`` runs them) started in ``cwd``; yields the scheduler's ``tcp://127.0.0.1:PORT``
    once every worker has joined."""
    from distributed import Client

    cwd.mkdir(parents=True, exist_ok=True)
    scheduler_file = cwd / "scheduler.json"
    commands = [
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
         "--host", "127.0.0.1", "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard",
         "--local-directory", str(cwd)],
    ]  # fmt: skip
    with _processes(commands, cwd) as processes:
        _wait_for(lambda: _scheduler_address(scheduler_file), processes, cwd, "the Dask scheduler")
        address = _scheduler_address(scheduler_file)
        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        yield address


def _scheduler_address(scheduler_file: Path) -> str:
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return ""  # not written yet, or half written
