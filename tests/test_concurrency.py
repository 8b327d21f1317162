"""Two runs at once, with real processes: nothing lost, nothing mixed, one line for the loser.

* N ``tinysign bless`` processes push into one models folder (local, and ``gs://`` on
  gcp-storage-emulator behind a proxy that enforces GCS's generation preconditions): the best model is
  always the champion and ``champion.json`` always parses for a reader polling it meanwhile.
* A second extraction into an ``--out`` being written stops with one line; the first finishes whole.
* Ingest and extraction killed (SIGKILL) before each file operation of their commit
  (``tests/crash_at.py``): a reader then sees the previous run's complete set, the new run's, or refuses
  with one line — never a mix — and a rerun commits the new set.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.bad_inputs import folder
from tests.loopback import storage_emulator, with_generation_preconditions
from tests.test_bless import CONFIG, stage_dirs
from tinysign.artifacts import (
    COMMIT_FILE,
    LOCK_FILE,
    MANIFEST_FILE,
    METRICS_FILE,
    STATS_FILE,
)
from tinysign.bless import CHAMPION_FILE
from tinysign.config import Config
from tinysign.data import records
from tinysign.data.manifest import read_manifest
from tinysign.errors import TinysignError
from tinysign.extract import run_extract
from tinysign.ingest import run_ingest

CLI = [sys.executable, "-m", "tinysign.cli"]
THRESHOLDS = [
    arg
    for key in ("min_int8_accuracy", "max_int8_drop", "arena_budget_bytes", "flash_budget_bytes")
    for arg in ("--set", f"{key}={getattr(CONFIG, key)}")
]


def start_bless(
    root: Path, n: int, accuracy: float, destination: str, env: dict[str, str]
) -> subprocess.Popen:
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

    with (
        storage_emulator(monkeypatch, bucket="models") as emulator,
        with_generation_preconditions(emulator) as proxy,
    ):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "STORAGE_EMULATOR_HOST": proxy}
        blob = (
            gcs.Client(client_options={"api_endpoint": emulator})
            .bucket("models")
            .blob(f"t/models/{CHAMPION_FILE}")
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


# --- output folders: one writer, committed whole ----------------------------------------------------


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


@pytest.mark.slow
def test_second_extraction_into_the_same_out_fails_with_one_line(demo_ingest: Path, tmp_path: Path) -> None:
    out, go = tmp_path / "records", tmp_path / "go"
    args = ["extract", "--manifest", str(demo_ingest / MANIFEST_FILE), "--out", str(out)]
    waiting = [sys.executable, "-m", "tests.crash_at", "--start-after", str(go), "0", *args]
    second = subprocess.Popen(
        waiting, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    first = subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob(".tmp-*/clips")):
        time.sleep(0.05)  # the first run holds the lock and its workers are writing
    go.touch()
    _, second_err = second.communicate(timeout=300)
    assert first.poll() is None, "the first extraction ended before the second started: nothing tested"
    assert second.returncode == 1 and second_err.count("\n") == 1, second_err
    assert "is being written by another run" in second_err and "Traceback" not in second_err
    assert list(out.glob(".tmp-*/clips")), "the second run must not touch the first run's staging folder"
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert records.read_schema(out)["labels"] and not list(out.glob(".tmp-*"))


TIMED = {STATS_FILE, METRICS_FILE}  # extraction's carry its run time: compared by their counts instead


def sets_seen(folder: Path, stage: str) -> dict[str, bytes]:
    """The committed files of ``folder`` as a reader gets them (raises for a refused folder)."""
    if stage == "extract":
        records.read_schema(folder)
    else:
        read_manifest(folder / MANIFEST_FILE)
    names = json.loads((folder / COMMIT_FILE).read_text())["files"]
    skip = TIMED if stage == "extract" else set()
    return {name: (folder / name).read_bytes() for name in names if name not in skip}


def what_a_reader_sees(folder: Path, stage: str, old: dict, new: dict) -> str:
    try:
        seen = sets_seen(folder, stage)
    except TinysignError as exc:
        assert "\n" not in str(exc) and "stopped while committing" in str(exc), exc
        return "refused"
    return "old" if seen == old else "new" if seen == new else f"MIXED {sorted(seen)}"


def kill_at_every_step(stage: str, args: list[str], out: Path, old_copy: Path, reference: Path) -> list[str]:
    """For k = 1, 2, ... until the command completes: a copy of the old set as ``out``, the command killed
    before its commit's step k (two at a time); what a reader saw after each."""
    old, new = sets_seen(old_copy, stage), sets_seen(reference, stage)
    assert old != new, "the two runs must differ to tell them apart"

    def run(k: int) -> str:
        target = out.with_name(f"{out.name}-kill{k}")
        shutil.copytree(old_copy, target)
        command = [sys.executable, "-m", "tests.crash_at", str(k), *args, "--out", str(target)]
        result = subprocess.run(command, capture_output=True, text=True, env=child_env())
        assert result.returncode in (-9, 0), result.stderr
        return what_a_reader_sees(target, stage, old, new) + (" (killed)" if result.returncode else "")

    seen: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        while not seen or seen[-1].endswith("(killed)"):
            assert len(seen) < 40, "the commit never completed"
            seen += pool.map(run, (len(seen) + 1, len(seen) + 2))
    return [
        s.removesuffix(" (killed)")
        for s in seen[: next(i for i, s in enumerate(seen) if "killed" not in s) + 1]
    ]


@pytest.mark.slow
def test_ingest_killed_at_each_commit_step(tmp_path: Path) -> None:
    sources = folder(tmp_path)
    tiny = ["min_per_class=2", "num_frames=8", "img_size=16"]
    out, old_copy, reference = tmp_path / "ingest", tmp_path / "old", tmp_path / "reference"
    run_ingest(sources, old_copy, Config.load(None, [*tiny, "seed=1"]), progress=False)
    run_ingest(sources, reference, Config.load(None, [*tiny, "seed=5"]), progress=False)
    args = ["ingest", *sources, "--quiet", *[a for t in (*tiny, "seed=5") for a in ("--set", t)]]
    seen = kill_at_every_step("ingest", args, out, old_copy, reference)
    assert seen[0] == "old" and seen[-1] == "new" and set(seen) <= {"old", "new", "refused"}, seen
    assert len(seen) == 1 + 3 + 1 + 1, seen  # record, 3 renames, record, and the full run


@pytest.mark.slow
def test_extraction_killed_at_each_commit_step(tmp_path: Path) -> None:
    tiny = ["min_per_class=2", "num_frames=8", "img_size=16", "fps_targets=[15,30]"]
    run_ingest(folder(tmp_path), tmp_path / "ingest", Config.load(None, tiny), progress=False)
    manifest = tmp_path / "ingest" / MANIFEST_FILE
    out, old_copy, reference = tmp_path / "records", tmp_path / "old", tmp_path / "reference"
    run_extract(manifest, old_copy, Config.load(None, [*tiny, "num_shards=2"]))
    new_config = [*tiny, "num_shards=1"]
    run_extract(manifest, reference, Config.load(None, new_config))
    args = ["extract", "--manifest", str(manifest), *[a for t in new_config for a in ("--set", t)]]
    seen = kill_at_every_step("extract", args, out, old_copy, reference)
    print("extraction killed before commit step 1..n, then whole:", seen)
    assert set(seen) <= {"old", "new", "refused"}, seen
    assert seen[0] == "old" and seen[-1] == "new" and "refused" in seen, seen
    completed = out.with_name(f"{out.name}-kill{len(seen)}")  # the run that was not killed
    stats = json.loads((completed / STATS_FILE).read_text())  # its counts describe its own shards
    assert stats["records"] == json.loads((reference / STATS_FILE).read_text())["records"]
    assert not list(completed.glob(".tmp-*")) and (completed / LOCK_FILE).exists()
