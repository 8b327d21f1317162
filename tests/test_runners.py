"""Extraction on real distributed engines: Beam's portable runner with an SDK worker pool, and Beam's
Dask runner on a dask.distributed cluster — each its own processes in its own working directory —
write the same shards, byte for byte, as the in-process runner."""

from __future__ import annotations

import json
import os

import pytest

from tests.engines import dask_cluster, free_port, worker_pool
from tinysign import cli
from tinysign.artifacts import FAILURES_FILE
from tinysign.config import SPLITS, Config
from tinysign.data.manifest import read_manifest
from tinysign.data.runners import DASK_RUNNER, runner_args, runs_elsewhere
from tinysign.extract import run_extract

ENGINES = {"portable": worker_pool, "dask": dask_cluster}


def assert_same_shards(reference, other) -> None:
    shards = sorted(reference.glob("*.tfrecord"))
    assert shards and sorted(p.name for p in other.glob("*.tfrecord")) == [p.name for p in shards]
    for shard in shards:
        assert (other / shard.name).read_bytes() == shard.read_bytes(), shard.name


def test_runner_options_name_the_engine():
    assert runner_args("direct") == []
    assert runner_args("portable", "localhost:50000") == [
        "--runner=PortableRunner",
        "--job_endpoint=embed",
        "--environment_type=EXTERNAL",
        "--environment_config=localhost:50000",
    ]
    assert runner_args("dask", "tcp://10.0.0.5:8786") == [
        f"--runner={DASK_RUNNER}",
        "--dask_client_address=tcp://10.0.0.5:8786",
    ]
    assert runner_args("dataflow") == ["--runner=DataflowRunner"]


def test_shards_go_to_shared_storage_when_the_work_runs_elsewhere():
    """The KFP extract step writes to the artifact's gs:// URI for these, to its local path otherwise."""
    assert not runs_elsewhere([]) and not runs_elsewhere(["--runner=DirectRunner", "--direct_num_workers=2"])
    assert runs_elsewhere(["--runner", "DataflowRunner", "--project", "p"])
    assert runs_elsewhere(runner_args("portable", "localhost:50000"))
    assert runs_elsewhere(runner_args("dask", "tcp://10.0.0.5:8786"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--runner", "dask"], "--runner dask needs --address tcp://HOST:PORT (the Dask scheduler)"),
        (["--address", "localhost:50000"], "--address is for --runner portable or dask, not direct"),
        (["--runner", "dask", "--address", "scheduler"], "--address scheduler: expected tcp://HOST:PORT"),
        (["--runner", "portable", "--address", "localhost:PORT"], "nothing answers at localhost:"),
        (["--runner", "dataflow"], "Dataflow workers cannot write a local --out; use gs://"),
    ],
)
def test_runner_mistakes_fail_with_one_line_before_any_work(tmp_path, capsys, options, message):
    options = [o.replace("PORT", str(free_port())) for o in options]  # nothing listens there
    argv = ["extract", "--manifest", str(tmp_path / "manifest.jsonl"), "--out", str(tmp_path / "out")]
    assert cli.main([*argv, *options]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["portable", "dask"])
def test_demo_shards_are_byte_identical_on_every_runner(
    runner, demo_ingest, demo_records, tmp_path, monkeypatch
):
    """The launcher names the videos and --out by paths relative to its own working directory, the
    workers run in another one; one clip cannot be decoded and must be reported, not lost."""
    launcher = tmp_path / "launcher"
    launcher.mkdir()
    rows = read_manifest(demo_ingest / "manifest.jsonl")
    (launcher / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    rows = [{**row, "path": os.path.relpath(row["path"], launcher)} for row in rows]
    rows.append({**rows[0], "clip_id": "broken:0", "path": "broken.mp4"})
    (launcher / "manifest.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.chdir(launcher)

    with ENGINES[runner](tmp_path / f"{runner}-workers") as address:
        metrics = run_extract("manifest.jsonl", "records", Config(), runner_args(runner, address))

    assert_same_shards(demo_records, launcher / "records")
    assert metrics["clips_extracted"] == len(rows) - 1 and metrics["failure_reasons"] == {"undecodable": 1}
    failures = (launcher / "records" / FAILURES_FILE).read_text().splitlines()
    assert len(failures) == 2 and failures[1].startswith("broken:0,")
    # Beam's Dask runner keeps no metrics; the portable runner's counters match the records
    expected = {"portable": {"clips_extracted", "clips_failed", "records_written"}, "dask": set()}[runner]
    assert set(metrics["beam_counters"]) == expected
    if expected:
        clip_records = sum(metrics["records"][split] for split in SPLITS)  # stream records are not counted
        assert metrics["beam_counters"]["records_written"] == clip_records
    assert not list((launcher / "records").glob(".tmp-*"))


@pytest.mark.slow
def test_fsl105_shards_are_byte_identical_on_every_runner(fsl105_extracted, tmp_path):
    """600 real clips (30 signs x 4 signers x 5 takes): in-process, on a worker pool, on Dask."""
    manifest = fsl105_extracted.ingest / "manifest.jsonl"
    for runner, engine in ENGINES.items():
        with engine(tmp_path / f"{runner}-workers") as address:
            metrics = run_extract(
                manifest, tmp_path / runner, fsl105_extracted.config, runner_args(runner, address)
            )
        assert metrics["clips_extracted"] == 600, runner
        assert_same_shards(fsl105_extracted.records, tmp_path / runner)
