"""Faults: a crashed extraction leaves no partial shards and a rerun produces exactly one set."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinysign.artifacts import STATS_FILE
from tinysign.config import Config
from tinysign.extract import SHARD_SETS


@pytest.mark.slow
def test_extraction_killed_part_way_then_rerun(demo_ingest: Path, demo_records: Path, tmp_path: Path) -> None:
    out = tmp_path / "records"
    command = [
        sys.executable,
        "-m",
        "tinysign.cli",
        "extract",
        "--manifest",
        str(demo_ingest / "manifest.jsonl"),
        "--out",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.is_file() for p in out.glob(".tmp-*/*")):
        time.sleep(0.05)  # kill as soon as the first shard is being written
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(out.glob("*.tfrecord")), "a killed run must not leave shards in the output folder"
    assert not (out / STATS_FILE).exists()

    subprocess.run(command, check=True, capture_output=True)
    config = Config()
    shards = sorted(p.name for p in out.glob("*.tfrecord"))
    assert len(shards) == len(SHARD_SETS) * config.num_shards
    assert not list(out.glob(".tmp-*")), "leftovers of the killed run are cleaned up"
    for name in shards:  # exactly the records of an uninterrupted run: nothing duplicated or missing
        assert (out / name).read_bytes() == (demo_records / name).read_bytes(), name
