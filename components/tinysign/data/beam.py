"""The Beam steps of extraction (imported only when a pipeline runs: Beam is slow to import)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from tinysign.artifacts import FAILURES_FILE
from tinysign.config import Config
from tinysign.data import records, storage
from tinysign.data.clips import extract_clip, shard_of
from tinysign.data.video import VideoError

LOCAL_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"


def build_pipeline(pipeline: beam.Pipeline, rows: list[dict[str, Any]], config: Config, tmp_dir: str) -> None:
    """Add the named extraction steps to ``pipeline``; everything is written under ``tmp_dir``."""
    extracted = (
        pipeline
        | "ReadManifest" >> beam.Create(rows, reshuffle=False)
        | "DecodeSampleAugment" >> beam.ParDo(ExtractFn(config)).with_outputs("failed", main="records")
    )
    (
        extracted.records
        | "KeyByShard" >> beam.Map(lambda item: ((item[0], shard_of(item[1][0], config)), item[1]))
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.ParDo(WriteShardFn(tmp_dir, config.num_shards))
    )
    (
        extracted.failed
        | "CollectFailures" >> beam.combiners.ToList()
        | "WriteFailures" >> beam.Map(write_failures, storage.join(tmp_dir, FAILURES_FILE))
    )


def beam_options(beam_args: list[str] | None) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(beam_args or [])
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        args.append(f"--runner={LOCAL_RUNNER}")  # the default (Prism) downloads a binary: fails offline
    return PipelineOptions(args)


def write_failures(failures: list[tuple[str, ...]], path: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("clip_id", "label", "path", "reason", "detail"))
    writer.writerows(sorted(failures))
    storage.write_text(path, buffer.getvalue())


class ExtractFn(beam.DoFn):
    """Manifest row -> (split, (clip_id, sort key, label, fps, augmented?, Example bytes)).

    Clips that cannot be decoded go to the ``failed`` output with a reason, never silently.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clips_ok = Metrics.counter("extract", "clips_extracted")
        self.clips_failed = Metrics.counter("extract", "clips_failed")
        self.records_out = Metrics.counter("extract", "records_written")

    def process(self, row: dict[str, Any]) -> Iterator[Any]:
        try:
            clip_records = extract_clip(row, self.config)
        except (VideoError, OSError) as exc:
            self.clips_failed.inc()
            reason, detail = (
                (exc.reason, exc.detail) if isinstance(exc, VideoError) else ("unreadable", str(exc))
            )
            yield beam.pvalue.TaggedOutput(
                "failed", (row["clip_id"], row["label"], row["path"], reason, detail)
            )
            return
        self.clips_ok.inc()
        for number, record in enumerate(clip_records):
            self.records_out.inc()
            key = f"{record.clip_id}\x00{number:04d}"
            augmented = record.augmentation != "none"
            payload = records.serialize(record)
            yield (
                record.split,
                (record.clip_id, key, record.label_name, record.fps_variant, augmented, payload),
            )


class WriteShardFn(beam.DoFn):
    """((split, shard), records) -> one TFRecord file (sorted: deterministic) + a JSON of its counts."""

    def __init__(self, tmp_dir: str, num_shards: int) -> None:
        self.tmp_dir = tmp_dir
        self.num_shards = num_shards

    def process(self, keyed: tuple[tuple[str, int], Any]) -> Iterator[str]:
        (split, shard), items = keyed
        name = records.shard_name(split, shard, self.num_shards)
        counts: Counter[str] = Counter()
        with storage.open_write(storage.join(self.tmp_dir, name)) as stream:
            for _clip, _key, label, variant, augmented, payload in sorted(items, key=lambda item: item[1]):
                records.write_tfrecord(stream, payload)
                counts[f"{label}\x00{'augmented' if augmented else f'fps{variant}'}"] += 1
        storage.write_text(storage.join(self.tmp_dir, name + ".counts.json"), json.dumps(counts))
        yield name
