"""The TFRecord contract between extraction and training.

Each record is a ``tf.train.Example``:

=============  =======  ===================================================
key            type     meaning
=============  =======  ===================================================
frames         bytes    uint8 clip, ``num_frames x img_size x img_size`` (grey)
label          int64    class index into ``schema.json["labels"]``
label_name     bytes    gloss
clip_id        bytes    stable id from the manifest
source_video   bytes    original video (grouping key of the split)
signer         bytes    signer id, empty when unknown
split          bytes    train / val / test
fps_variant    int64    simulated frame rate
augmentation   bytes    ``none`` or the augmentation parameters applied
=============  =======  ===================================================

Shards are ``<dir>/<split>-SSSSS-of-NNNNN.tfrecord``; ``schema.json`` and ``stats.json`` sit beside
them. Val and test clips are also kept whole, as a device streams them, in
``<dir>/stream-<split>-SSSSS-of-NNNNN.tfrecord`` (:class:`StreamRecord`: the clip's frames at
``stream_fps``, any number of them, and the span of its sign's motion). Writing uses Beam's
FileSystems (local paths and ``gs://``) and the TFRecord framing below, so this module needs TensorFlow
only to build/parse ``Example`` protos and for ``tf.data``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import google_crc32c
import numpy as np

from tinysign.artifacts import SCHEMA_FILE, STATS_FILE
from tinysign.data import storage
from tinysign.data.commit import check_committed
from tinysign.errors import TinysignError

SHUFFLE_RECORDS = 512  # training shuffle buffer (~50 MB of 24x64x64 clips)
BYTES_KEYS = ("label_name", "clip_id", "source_video", "signer", "split", "augmentation")
INT_KEYS = ("label", "fps_variant")


@dataclass(frozen=True)
class ClipRecord:
    """One extracted training example (frames are uint8, shape (T, H, W))."""

    frames: np.ndarray
    label: int
    label_name: str
    clip_id: str
    source_video: str
    signer: str
    split: str
    fps_variant: int
    augmentation: str = "none"


@dataclass(frozen=True)
class StreamRecord:
    """A whole val/test clip as a device streams it, and where its sign is (tick ``[start, end)``)."""

    frames: np.ndarray  # uint8 (N, H, W), one per stream tick
    label: int
    label_name: str
    sign: str  # the gloss (``label_name`` is ``unknown`` for a sign outside the vocabulary)
    clip_id: str
    signer: str
    span: tuple[int, int]


def stream_split(split: str) -> str:
    """The shard prefix of ``split``'s stream records: ``stream-<split>``."""
    return f"stream-{split}"


def shard_name(split: str, index: int, num_shards: int) -> str:
    return f"{split}-{index:05d}-of-{num_shards:05d}.tfrecord"


def shard_pattern(split: str) -> str:
    return f"{split}-*-of-*.tfrecord"


def serialize(record: ClipRecord) -> bytes:
    """``ClipRecord`` -> serialized ``tf.train.Example``."""
    from tensorflow.core.example import example_pb2, feature_pb2

    def _bytes(value: bytes) -> feature_pb2.Feature:
        return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[value]))

    def _int(value: int) -> feature_pb2.Feature:
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(value)]))

    feature = {"frames": _bytes(np.ascontiguousarray(record.frames, dtype=np.uint8).tobytes())}
    feature.update({k: _bytes(str(getattr(record, k)).encode()) for k in BYTES_KEYS})
    feature.update({k: _int(getattr(record, k)) for k in INT_KEYS})
    example = example_pb2.Example(features=feature_pb2.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def serialize_stream(record: StreamRecord) -> bytes:
    """``StreamRecord`` -> serialized ``tf.train.Example`` (``num_frames`` says how many frames)."""
    from tensorflow.core.example import example_pb2, feature_pb2

    def _bytes(value: bytes) -> feature_pb2.Feature:
        return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[value]))

    def _int(value: int) -> feature_pb2.Feature:
        return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(value)]))

    feature = {
        "frames": _bytes(np.ascontiguousarray(record.frames, dtype=np.uint8).tobytes()),
        "num_frames": _int(len(record.frames)),
        "label": _int(record.label),
        "span_start": _int(record.span[0]),
        "span_end": _int(record.span[1]),
        **{k: _bytes(str(getattr(record, k)).encode()) for k in ("label_name", "sign", "clip_id", "signer")},
    }
    example = example_pb2.Example(features=feature_pb2.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def deserialize_stream(payload: bytes, img_size: int) -> StreamRecord:
    from tensorflow.core.example import example_pb2

    feat = example_pb2.Example.FromString(payload).features.feature
    count = int(feat["num_frames"].int64_list.value[0])
    frames = np.frombuffer(feat["frames"].bytes_list.value[0], dtype=np.uint8).reshape(
        count, img_size, img_size
    )
    text = {k: feat[k].bytes_list.value[0].decode() for k in ("label_name", "sign", "clip_id", "signer")}
    span = (int(feat["span_start"].int64_list.value[0]), int(feat["span_end"].int64_list.value[0]))
    return StreamRecord(frames=frames, label=int(feat["label"].int64_list.value[0]), span=span, **text)


def deserialize(payload: bytes, frames_shape: tuple[int, int, int]) -> ClipRecord:
    """Serialized ``tf.train.Example`` -> ``ClipRecord`` (no TF graph needed)."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example.FromString(payload)
    feat = example.features.feature
    frames = np.frombuffer(feat["frames"].bytes_list.value[0], dtype=np.uint8)
    values: dict[str, Any] = {k: feat[k].bytes_list.value[0].decode() for k in BYTES_KEYS}
    values.update({k: int(feat[k].int64_list.value[0]) for k in INT_KEYS})
    return ClipRecord(frames=frames.reshape(frames_shape), **values)


# --- TFRecord framing (https://www.tensorflow.org/tutorials/load_data/tfrecord) -------------------


def _masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def write_tfrecord(stream: BinaryIO, payload: bytes) -> None:
    """Append one framed record to ``stream``."""
    length = struct.pack("<Q", len(payload))
    stream.write(length)
    stream.write(struct.pack("<I", _masked_crc(length)))
    stream.write(payload)
    stream.write(struct.pack("<I", _masked_crc(payload)))


def read_tfrecord(stream: BinaryIO, name: str = "<stream>") -> Iterator[bytes]:
    """Yield payloads from a TFRecord stream, checking both CRCs."""
    while header := stream.read(12):
        if len(header) < 12:
            raise TinysignError(f"{name}: truncated TFRecord header; re-run extraction")
        length, length_crc = struct.unpack("<QI", header)
        if _masked_crc(header[:8]) != length_crc:
            raise TinysignError(f"{name}: corrupt TFRecord (length CRC); re-run extraction")
        payload = stream.read(length)
        footer = stream.read(4)
        if len(payload) < length or len(footer) < 4 or _masked_crc(payload) != struct.unpack("<I", footer)[0]:
            raise TinysignError(f"{name}: corrupt TFRecord (data CRC); re-run extraction")
        yield payload


# --- schema ---------------------------------------------------------------------------------------


def read_schema(records_dir: str | Path) -> dict[str, Any]:
    """``schema.json`` of a records folder whose extraction committed whole (else one line)."""
    check_committed(records_dir, "extract", patterns=["*.tfrecord"])
    path = Path(records_dir) / SCHEMA_FILE
    try:
        schema = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise TinysignError(
            f"{path} not found: run `tinysign extract` first (or point --records at an extraction output)"
        ) from None
    except json.JSONDecodeError:
        raise TinysignError(f"{path} is not valid JSON: re-run `tinysign extract`") from None
    for key in ("labels", "num_frames", "img_size"):
        if key not in schema:
            raise TinysignError(f"{path} has no {key!r}: re-run `tinysign extract`")
    return schema


def write_schema(
    records_dir: str | Path, labels: list[str], num_frames: int, img_size: int, **extra: Any
) -> dict[str, Any]:
    """Write ``schema.json`` (shapes, label map index -> gloss, feature list) to a local or gs:// folder."""
    schema = {
        "format": "tf.train.Example",
        "shard_pattern": shard_pattern("<split>"),
        "features": {
            "frames": f"bytes: uint8 {num_frames}x{img_size}x{img_size}",
            **{k: "int64" for k in INT_KEYS},
            **{k: "bytes" for k in BYTES_KEYS},
        },
        "num_frames": num_frames,
        "img_size": img_size,
        "num_classes": len(labels),
        "labels": list(labels),
        **extra,
    }
    storage.write_text(storage.join(str(records_dir), SCHEMA_FILE), json.dumps(schema, indent=2) + "\n")
    return schema


def read_stats(records_dir: str | Path) -> dict[str, Any]:
    """The extraction's ``stats.json`` (``{}`` when absent or unreadable)."""
    try:
        return json.loads((Path(records_dir) / STATS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def frames_shape(schema: dict[str, Any]) -> tuple[int, int, int]:
    return (int(schema["num_frames"]), int(schema["img_size"]), int(schema["img_size"]))


def empty_split_message(records_dir: str | Path, split: str) -> str:
    return (
        f"the {split} split in {records_dir} has no clips; re-run `tinysign ingest` with a split that "
        "fills it (see --set split_mode) and `tinysign extract`"
    )


def shard_paths(records_dir: str | Path, split: str) -> list[Path]:
    paths = sorted(Path(records_dir).glob(shard_pattern(split)))
    if not paths:
        raise TinysignError(
            f"no {split} shards ({shard_pattern(split)}) in {records_dir}: run `tinysign extract` first"
        )
    return paths


def iter_records(records_dir: str | Path, split: str) -> Iterator[ClipRecord]:
    """Every record of ``split``, in shard order, without TensorFlow graph code."""
    shape = frames_shape(read_schema(records_dir))
    for path in shard_paths(records_dir, split):
        with open(path, "rb") as stream:
            for payload in read_tfrecord(stream, str(path)):
                yield deserialize(payload, shape)


def has_streams(records_dir: str | Path, split: str) -> bool:
    """Whether the extraction kept ``split``'s clips whole as stream records."""
    return bool(list(Path(records_dir).glob(shard_pattern(stream_split(split)))))


def iter_stream_records(records_dir: str | Path, split: str) -> Iterator[StreamRecord]:
    """Every stream record of ``split`` (val or test), in shard order."""
    size = int(read_schema(records_dir)["img_size"])
    for path in shard_paths(records_dir, stream_split(split)):
        with open(path, "rb") as stream:
            for payload in read_tfrecord(stream, str(path)):
                yield deserialize_stream(payload, size)


def sample_records(records_dir: str | Path, split: str, count: int, seed: int) -> list[ClipRecord]:
    """``count`` records of ``split`` drawn uniformly (seeded reservoir sampling), in shard order.

    One pass over the shards holding at most ``count`` records: memory does not grow with the split.
    """
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, ClipRecord]] = []
    for number, record in enumerate(iter_records(records_dir, split)):
        if len(chosen) < count:
            chosen.append((number, record))
        else:
            slot = int(rng.integers(number + 1))
            if slot < count:
                chosen[slot] = (number, record)
    if not chosen:
        raise TinysignError(empty_split_message(records_dir, split))
    return [record for _, record in sorted(chosen, key=lambda item: item[0])]


def load_arrays(records_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(frames uint8 (N,T,H,W), labels int64 (N,), clip_ids)`` of one split."""
    records = list(iter_records(records_dir, split))
    if not records:
        raise TinysignError(empty_split_message(records_dir, split))
    frames = np.stack([r.frames for r in records])
    labels = np.array([r.label for r in records], dtype=np.int64)
    return frames, labels, [r.clip_id for r in records]


def label_counts(records_dir: str | Path, split: str, labels: list[str]) -> np.ndarray:
    """Examples per class index in ``split`` (zeros when the split has no shards).

    Read from the extraction's ``stats.json`` when it has the split; else by reading every record.
    """
    num_classes = len(labels)
    counts = np.zeros(num_classes, dtype=np.int64)
    if not list(Path(records_dir).glob(shard_pattern(split))):
        return counts
    stats = read_stats(records_dir)
    per_label = (stats.get("counts") or {}).get(split) if stats else None
    if isinstance(per_label, dict) and set(per_label) <= set(labels):
        for label, kinds in per_label.items():
            counts[labels.index(label)] = sum(kinds.values())
        return counts
    for record in iter_records(records_dir, split):
        if not 0 <= record.label < num_classes:
            raise TinysignError(
                f"{records_dir}: {split} clip {record.clip_id} has label {record.label}, "
                f"outside schema.json's {num_classes} labels; re-run extraction"
            )
        counts[record.label] += 1
    return counts


@contextmanager
def corrupt_shards_as_errors(records_dir: str | Path) -> Iterator[None]:
    """Inside the block, TensorFlow's ``DataLossError`` (a shard whose bytes fail their CRC while
    ``tf.data`` reads it) becomes one line naming the records and what to do."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.DataLossError as exc:
        reason = (exc.message.strip().splitlines() or ["DataLossError"])[0]
        raise TinysignError(
            f"{records_dir}: a corrupt TFRecord shard ({reason}); re-run `tinysign extract`"
        ) from None


def make_dataset(
    records_dir: str | Path,
    split: str,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
    transform: Callable[[Any], Any] | None = None,
) -> Any:
    """A ``tf.data.Dataset`` of ``(model input float32 (B, ...), label int64 (B,))``.

    ``transform`` maps a batch of records' uint8 frames ``(B, T, H, W)`` to the model input
    (augmentation, the front end: :func:`tinysign.data.inputs.model_input`); without one, frames / 255
    with a channel axis.
    """
    import tensorflow as tf

    schema = read_schema(records_dir)
    shape = frames_shape(schema)
    files = [str(p) for p in shard_paths(records_dir, split)]
    spec = {"frames": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

    def parse(payload: Any) -> tuple[Any, Any]:
        example = tf.io.parse_single_example(payload, spec)
        return tf.reshape(tf.io.decode_raw(example["frames"], tf.uint8), shape), example["label"]

    def model_input(frames: Any, labels: Any) -> tuple[Any, Any]:  # a whole batch at once
        if transform is not None:
            return transform(frames), labels
        return tf.cast(frames, tf.float32)[..., tf.newaxis] / 255.0, labels

    ds = tf.data.TFRecordDataset(files, num_parallel_reads=min(len(files), 4))
    if shuffle:  # a bounded window (shards are in hash order already): memory does not grow with the split
        ds = ds.shuffle(SHUFFLE_RECORDS, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size).map(model_input, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
