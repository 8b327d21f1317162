"""The Beam steps of extraction (imported only when a pipeline runs: Beam is slow to import).

One chain, ReadManifest -> DecodeSampleAugment -> GroupByShard -> WriteShard: one output per step
and one last step, the shape every runner in ``data/runners.py`` executes correctly (Beam's Dask
runner hands every tagged output to every consumer and computes only the last step of a branching
pipeline; see docs/distributed.md). Workers share no memory and no working directory with the launcher:
what they read and write goes through ``data/storage.py`` by absolute or remote paths.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from tinysign.artifacts import FAILURES_FILE
from tinysign.config import SPLITS, Config
from tinysign.data import records, storage
from tinysign.data.clips import extract_clip, shard_of
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import clip_of
from tinysign.data.video import VideoError

CLIPS_DIR = "clips"  # per-clip record files under the run's temporary folder
FAILED_DIR = "failed"  # per-clip failure rows under the run's temporary folder
FAILURE_COLUMNS = ("clip_id", "label", "path", "reason", "detail")


def build_pipeline(
    pipeline: beam.Pipeline, rows: list[dict[str, Any]], classes: list[str], config: Config, tmp_dir: str
) -> None:
    """Add the named extraction steps to ``pipeline``; everything is written under ``tmp_dir``.
    ``classes`` is the schema's label list (the manifest's classes, then ``rest``).

    Local paths are made absolute here, on the launcher, so a worker in another directory (or on
    another machine sharing the volume) reads and writes the same files.
    """
    tmp_dir = storage.absolute(tmp_dir)
    rows = [{**row, "path": storage.absolute(row["path"])} for row in rows]
    (
        pipeline
        | "ReadManifest" >> beam.Create(rows)  # reshuffled: clips spread over the workers
        | "DecodeSampleAugment" >> beam.ParDo(ExtractFn(config, tmp_dir, classes))
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.ParDo(WriteShardFn(tmp_dir, config.num_shards))
    )


def clips_done(tmp_dir: str) -> int:
    """Clips finished so far, whichever worker did them: each leaves one records file in its split's
    folder under ``tmp_dir/clips/`` (a stream record besides, not counted) or one failure row."""
    written = storage.glob(storage.join(tmp_dir, CLIPS_DIR, "*", "*.tfrecord"))
    failed = storage.glob(storage.join(tmp_dir, FAILED_DIR, "*.csv"))
    folders = (posixpath.basename(posixpath.dirname(path)) for path in written)  # <split>-<shard>
    return sum(folder.rsplit("-", 1)[0] in SPLITS for folder in folders) + len(failed)


def collect_failures(tmp_dir: str) -> None:
    """Merge the failed clips' rows (one small file each, written by the workers) into
    ``tmp_dir/extract_failures.csv``, sorted, under a header; run on the launcher after the pipeline."""
    failed = storage.glob(storage.join(tmp_dir, FAILED_DIR, "*.csv"))
    rows = [row for path in failed for row in csv.reader(io.StringIO(storage.read_text(path)))]
    storage.write_text(storage.join(tmp_dir, FAILURES_FILE), _csv([FAILURE_COLUMNS, *sorted(rows)]))


def _csv(rows: Iterable[Iterable[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


class ExtractFn(beam.DoFn):
    """Manifest row -> its records in one small TFRecord file of its own under ``tmp_dir/clips/``, and
    ((split, shard), (clip_id, that file, counts)) for the shard writer; a val/test clip's stream record
    the same way under the split ``stream-<split>``.

    The records travel through the file, not through the shuffle, so no step ever holds more than one
    clip's records in memory. A clip that cannot be decoded leaves a row with the reason under
    ``tmp_dir/failed/`` instead (see :func:`collect_failures`).
    """

    def __init__(self, config: Config, tmp_dir: str, classes: list[str]) -> None:
        self.config = config
        self.tmp_dir = tmp_dir
        self.classes = classes
        self.clips_ok = Metrics.counter("extract", "clips_extracted")
        self.clips_failed = Metrics.counter("extract", "clips_failed")
        self.records_out = Metrics.counter("extract", "records_written")

    def process(self, row: dict[str, Any]) -> Iterator[Any]:
        try:
            extracted = extract_clip(clip_of(row), row["split"], self.classes, self.config)
        except (VideoError, OSError) as exc:
            self.clips_failed.inc()
            reason, detail = (
                (exc.reason, exc.detail) if isinstance(exc, VideoError) else ("unreadable", str(exc))
            )
            failure = (row["clip_id"], row["label"], row["path"], reason, detail)
            name = f"{stable_hash(row['clip_id']):016x}.csv"
            storage.write_text(storage.join(self.tmp_dir, FAILED_DIR, name), _csv([failure]))
            return
        self.clips_ok.inc()
        split, clip_id = row["split"], row["clip_id"]
        shard = shard_of(clip_id, self.config)
        counts: Counter[str] = Counter()
        payloads = []
        for record in extracted.records:
            payloads.append(records.serialize(record))
            kind = "augmented" if record.augmentation != "none" else f"fps{record.fps_variant}"
            counts[f"{record.label_name}\x00{kind}"] += 1
            self.records_out.inc()
        yield self._write(split, shard, clip_id, payloads, counts)
        if extracted.stream is not None:
            stream = Counter({f"{extracted.stream.label_name}\x00stream": 1})
            payload = records.serialize_stream(extracted.stream)
            yield self._write(records.stream_split(split), shard, clip_id, [payload], stream)

    def _write(
        self, split: str, shard: int, clip_id: str, payloads: list[bytes], counts: Counter[str]
    ) -> tuple[tuple[str, int], tuple[str, str, dict[str, int]]]:
        """The clip's records of ``split`` in a file of their own; the shard writer's key and value."""
        path = storage.join(
            self.tmp_dir, CLIPS_DIR, f"{split}-{shard}", f"{stable_hash(clip_id):016x}.tfrecord"
        )
        with storage.open_write(path) as stream:  # a retried bundle rewrites the same bytes
            for payload in payloads:
                records.write_tfrecord(stream, payload)
        return (split, shard), (clip_id, path, dict(counts))


class WriteShardFn(beam.DoFn):
    """((split, shard), clips) -> one TFRecord file, the clips' files concatenated in the order of a
    stable hash of their ids (deterministic: byte-identical whatever the runner or the order of arrival)
    + a JSON of its counts."""

    def __init__(self, tmp_dir: str, num_shards: int) -> None:
        self.tmp_dir = tmp_dir
        self.num_shards = num_shards

    def process(self, keyed: tuple[tuple[str, int], Any]) -> Iterator[str]:
        (split, shard), clips = keyed
        name = records.shard_name(split, shard, self.num_shards)
        counts: Counter[str] = Counter()
        with storage.open_write(storage.join(self.tmp_dir, name)) as stream:
            # hash order, not name order: a shard read front to back mixes classes (names often sort by class)
            for _clip_id, path, clip_counts in sorted(
                clips, key=lambda c: (stable_hash("order", c[0]), c[0])
            ):
                with storage.open_read(path) as clip_file:
                    shutil.copyfileobj(clip_file, stream)
                counts.update(clip_counts)
        storage.write_text(storage.join(self.tmp_dir, name + ".counts.json"), json.dumps(counts))
        yield name
