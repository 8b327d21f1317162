"""Extract: an Apache Beam pipeline from manifest clips to sharded TFRecords.

Per clip: decode the segment with OpenCV (grey, centre square, ``img_size``), then

* train: one record per FPS variant in ``fps_targets`` plus ``augment_copies`` augmented records
  (random variant, affine + brightness/contrast + temporal jitter; flip only if ``augment_flip``);
* val / test: one plain record at ``eval_fps``.

Augmentation happens after the split (the manifest carries it), so no augmented copy of a test
video can reach training. Records are grouped into ``num_shards`` shards per split by a stable hash
of the clip id and sorted inside each shard, so the same input and seed give byte-identical files.
Everything is written into a staging folder and committed as one set only when the whole run
succeeded (:mod:`tinysign.data.commit`): a crashed run leaves no partial or mixed set, and a second run
into the same ``--out`` meanwhile stops with one line. Runs in-process by default (FnApiRunner);
``--runner portable|dask|dataflow`` (``data/runners.py``) runs the same pipeline on a worker pool, a
Dask cluster or Dataflow, with more Beam options after ``--``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinysign.artifacts import FAILURES_FILE, METRICS_FILE, SCHEMA_FILE, STATS_FILE
from tinysign.config import REST_LABEL, SPLITS, Config
from tinysign.console import Progress
from tinysign.data import commit, records, storage
from tinysign.data.manifest import read_manifest
from tinysign.data.runners import RUNNERS, check_engine, runner_args
from tinysign.errors import TinysignError
from tinysign.summaries import ExtractSummary, stamped, write_summary

# --- shards + stats ---------------------------------------------------------------------------------


SHARD_SETS = (*SPLITS, *(records.stream_split(s) for s in SPLITS if s != "train"))


def _finish_shards(tmp_dir: str, config: Config) -> tuple[list[str], dict[str, dict[str, dict[str, int]]]]:
    """Every shard of every set in ``tmp_dir`` (an empty file for a shard no clip hashed to) and the
    shards' counts merged per set and label."""
    names, stats = [], {s: {} for s in SHARD_SETS}
    for split in SHARD_SETS:
        for shard in range(config.num_shards):
            name = records.shard_name(split, shard, config.num_shards)
            names.append(name)
            source = storage.join(tmp_dir, name)
            if not storage.exists(source):
                storage.open_write(source).close()
                continue
            for key, value in json.loads(storage.read_text(source + ".counts.json")).items():
                label, kind = key.split("\x00")
                per_label = stats[split].setdefault(label, {})
                per_label[kind] = per_label.get(kind, 0) + value
    return names, stats


@stamped("extract")
def run_extract(
    manifest: str | Path, out_dir: str | Path, config: Config, beam_args: list[str] | None = None
) -> ExtractSummary:
    """Run the Beam pipeline; commit shards, schema.json, stats.json, metrics.json and
    extract_failures.csv to ``out_dir`` as one set (:mod:`tinysign.data.commit`)."""
    import apache_beam as beam

    from tinysign.data.beam import build_pipeline, clips_done, collect_failures
    from tinysign.data.runners import beam_options, run_to_completion

    rows = read_manifest(manifest)
    labels = _labels(rows) + ([REST_LABEL] if config.rest_class else [])
    with commit.writing(out_dir) as tmp_dir:
        pipeline = beam.Pipeline(options=beam_options(beam_args, config.beam_workers))
        build_pipeline(pipeline, rows, labels, config, tmp_dir)
        started = time.monotonic()
        with Progress("extract", len(rows), "clips") as shown, _watching(tmp_dir, shown):
            counters = run_to_completion(pipeline)
            shown.advance_to(clips_done(tmp_dir))
        collect_failures(tmp_dir)
        shards, stats = _finish_shards(tmp_dir, config)
        failures = list(csv.reader(io.StringIO(storage.read_text(storage.join(tmp_dir, FAILURES_FILE)))))[1:]
        split_of = {r["clip_id"]: r["split"] for r in rows}
        clips = Counter(split_of.values())
        failed = Counter(split_of[f[0]] for f in failures)
        metrics: ExtractSummary = {
            "clips_in_manifest": len(rows),
            "clips_extracted": len(rows) - len(failures),
            "clips_failed": len(failures),
            "failure_reasons": dict(Counter(f[3] for f in failures)),
            "records": {s: sum(sum(v.values()) for v in stats[s].values()) for s in SHARD_SETS},
            "clips": {s: clips[s] - failed[s] for s in SPLITS},
            "num_shards": config.num_shards,
            "beam_counters": dict(sorted(counters.items())),
            "seconds": round(time.monotonic() - started, 1),
        }
        storage.write_text(
            storage.join(tmp_dir, STATS_FILE),
            json.dumps({"counts": stats, **metrics}, indent=2, ensure_ascii=False) + "\n",
        )
        write_summary(tmp_dir, metrics)
        records.write_schema(
            tmp_dir,
            labels,
            config.num_frames,
            config.img_size,
            fps_targets=list(config.fps_targets),
            eval_fps=config.eval_fps,
            stream_fps=config.stream_fps,
            augment_copies=config.augment_copies,
            seed=config.seed,
        )
        files = [*shards, FAILURES_FILE, STATS_FILE, SCHEMA_FILE, METRICS_FILE]
        commit.commit(tmp_dir, out_dir, files, replaces=[records.shard_pattern("*")])
    return metrics


@contextlib.contextmanager
def _watching(tmp_dir: str, shown: Progress) -> Iterator[None]:
    """Count the clips the workers have finished (their files under ``tmp_dir``) while the block runs:
    every second here, every 10 s on remote storage (a listing each time)."""
    from tinysign.data.beam import clips_done

    stop = threading.Event()
    every = 10.0 if storage.is_remote(tmp_dir) else 1.0

    def watch() -> None:
        while not stop.wait(every):
            shown.advance_to(clips_done(tmp_dir))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    by_index = {int(r["label_index"]): r["label"] for r in rows}
    if sorted(by_index) != list(range(len(by_index))) or len(set(by_index.values())) != len(by_index):
        raise TinysignError(
            "manifest label_index values are not 0..N-1, one per label: re-run `tinysign ingest`"
        )
    return [by_index[i] for i in range(len(by_index))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="manifest.jsonl written by `tinysign ingest`")
    parser.add_argument("--out", required=True, help="records folder (local or gs://)")
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default="direct",
        help="where the Beam pipeline runs: direct = this machine (--set beam_workers=N processes), "
        "portable = an SDK worker pool through a job service (Flink/Spark), dask = a Dask cluster, "
        "dataflow = Google Cloud Dataflow (default: direct)",
    )
    parser.add_argument(
        "--address",
        default="",
        help="the engine's address: the SDK worker pool HOST:PORT (portable), the scheduler "
        "tcp://HOST:PORT (dask)",
    )
    parser.add_argument(
        "beam_args",
        nargs=argparse.REMAINDER,
        help="more Beam pipeline options after --, e.g. -- --project P --region R (dataflow) or "
        "-- --job_endpoint=HOST:8099 (portable on a Flink/Spark job server)",
    )


def run(args: argparse.Namespace, config: Config) -> int:
    if args.runner == "dataflow" and not storage.is_remote(args.out):
        raise TinysignError("--runner dataflow: Dataflow workers cannot write a local --out; use gs://...")
    extra = [a for a in args.beam_args if a != "--"]
    beam_args = runner_args(args.runner, args.address) + extra
    if not any(a.startswith("--job_endpoint") for a in extra):  # a job server, not we, reaches that pool
        check_engine(args.runner, args.address)
    metrics = run_extract(args.manifest, args.out, config, beam_args)
    print(
        f"clips in manifest {metrics['clips_in_manifest']} = extracted {metrics['clips_extracted']} "
        f"+ failed {metrics['clips_failed']} {metrics['failure_reasons'] or ''}".rstrip()
    )
    print("records " + ", ".join(f"{s} {n}" for s, n in metrics["records"].items()) + f" -> {args.out}")
    counters = ", ".join(f"{name} {value}" for name, value in metrics["beam_counters"].items())
    print(f"Beam ({args.runner}): {counters or 'no counters from this runner'} in {metrics['seconds']} s")
    return 0
