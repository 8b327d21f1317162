"""Two runs at once, with real processes: nothing lost, nothing mixed, one line for the loser.

* N ``tinysign bless`` processes push into one models folder (local, and ``gs://`` on
  gcp-storage-emulator behind a proxy that enforces GCS's generation preconditions): the best model is
  always the champion and ``champion.json`` always parses for a reader polling it meanwhile.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.loopback import storage_emulator, with_generation_preconditions
from tests.test_bless import CONFIG, stage_dirs
from tinysign.bless import CHAMPION_FILE

CLI = [sys.executable, "-m", "tinysign.cli"]
THRESHOLDS = [
    arg
    for key in ("min_int8_accuracy", "max_int8_drop", "arena_budget_bytes", "flash_budget_bytes")
    for arg in ("--set", f"{key}={getattr(CONFIG, key)}")
]


def start_bless(root: Path, n: int, accuracy: float, destination: str, env: dict[str, str]) -> subprocess.Popen:
    """One ``tinysign bless`` process for a challenger of INT8 ``accuracy`` (its own stage folders)."""
    dirs = stage_dirs(root / f"r{n}", int8=accuracy, float32=accuracy, model_bytes=f"model-{n}".encode())
    command = [
        *CLI,
        "bless",
        "--quant",
        str(dirs["quant_dir"]),
        "--eval",
        str(dirs["eval_dir"]),
        "--mcu",
        str(dirs["mcu_dir"]),
        "--out",
        str(root / f"b{n}"),
        "--destination",
        destination,
        "--version",
        f"v{n}",
        *THRESHOLDS,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


class Poller:
    """Reads ``champion.json`` in a loop while the processes run; counts reads that did not parse."""

    def __init__(self, read: Callable[[], str | None]) -> None:
        self.read, self.reads, self.torn = read, 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            text = self.read()
            if text is not None:
                self.reads += 1
                try:
                    json.loads(text)
                except json.JSONDecodeError:
                    self.torn.append(text)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def race(
    root: Path, destination: str, accuracies: list[float], env: dict[str, str], read: Callable[[], str | None]
) -> tuple[dict, Poller, list[subprocess.CompletedProcess]]:
    """Start one bless per accuracy at once; the final champion, the poller and every result."""
    with Poller(read) as poller:
        processes = [start_bless(root, n, acc, destination, env) for n, acc in enumerate(accuracies)]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    champion = json.loads(read() or "null")
    return champion, poller, results


def check_race(champion: dict, poller: Poller, results: list, accuracies: list[float]) -> None:
    for result in results:
        assert "Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
    best = max(range(len(accuracies)), key=lambda n: accuracies[n])
    assert champion["version"] == f"v{best}" and champion["int8_accuracy"] == accuracies[best]
    assert results[best].returncode == 0
    assert not poller.torn, f"{len(poller.torn)} of {poller.reads} reads of champion.json did not parse"


def local_reader(path: Path) -> Callable[[], str | None]:
    def read() -> str | None:
        try:
            return path.read_text()
        except FileNotFoundError:
            return None

    return read


@pytest.mark.slow
def test_concurrent_bless_keeps_the_best_champion(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = random.Random(7)
    for round_ in range(3):
        accuracies = rng.sample([0.80, 0.83, 0.86, 0.89, 0.92, 0.95], 6)
        destination = tmp_path / f"dest{round_}"
        champion, poller, results = race(
            tmp_path / f"round{round_}",
            str(destination),
            accuracies,
            env,
            local_reader(destination / "models" / CHAMPION_FILE),
        )
        check_race(champion, poller, results, accuracies)
        kept = sorted(p.name for p in (destination / "models").iterdir() if p.is_dir())
        refused = {f"v{n}" for n, r in enumerate(results) if r.returncode == 1}
        assert champion["version"] in kept and not refused & set(kept), (kept, refused)


@pytest.mark.slow
def test_concurrent_bless_on_gcs_keeps_the_best_champion(tmp_path: Path, monkeypatch) -> None:
    from google.cloud import storage as gcs

    with storage_emulator(monkeypatch, bucket="models") as emulator, with_generation_preconditions(
        emulator
    ) as proxy:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "STORAGE_EMULATOR_HOST": proxy}
        blob = gcs.Client(client_options={"api_endpoint": emulator}).bucket("models").blob(
            f"t/models/{CHAMPION_FILE}"
        )

        def read() -> str | None:
            try:
                return blob.download_as_text()
            except Exception:  # not there yet (404)
                return None

        accuracies = [0.86, 0.95, 0.80, 0.92]
        started = time.monotonic()
        champion, poller, results = race(tmp_path, "gs://models/t", accuracies, env, read)
        check_race(champion, poller, results, accuracies)
        assert time.monotonic() - started < 240
