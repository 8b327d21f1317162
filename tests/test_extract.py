"""Beam extraction to TFRecords: shapes, labels, variants, determinism, no augmentation leak."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from tests.conftest import WLASL_SAMPLE
from tinysign.config import Config
from tinysign.data import records
from tinysign.data.clips import extract_clip
from tinysign.data.manifest import clip_of, read_manifest
from tinysign.extract import run_extract
from tinysign.ingest import run_ingest


def test_records_read_back_with_tf_data(demo_records):
    schema = records.read_schema(demo_records)
    assert schema["num_classes"] == 8 and schema["num_frames"] == 24 and schema["img_size"] == 64
    ds = records.make_dataset(demo_records, "train", batch_size=16, shuffle=True)
    frames, labels = next(iter(ds))
    assert frames.shape == (16, 24, 64, 64, 1) and frames.dtype.name == "float32"
    assert labels.dtype.name == "int64" and 0 <= int(labels.numpy().min()) and int(labels.numpy().max()) < 8
    assert 0.0 <= float(frames.numpy().min()) and float(frames.numpy().max()) <= 1.0


def test_windows_per_clip_and_augmentation_only_on_train(demo_ingest, demo_records):
    """Train: a sign window per camera rate (half as many for `unknown` clips) + augmented copies + a
    rest window; val/test: one sign window at eval_fps + a rest window + the whole clip as a stream."""
    manifest = read_manifest(demo_ingest / "manifest.jsonl")
    row_of = {r["clip_id"]: r for r in manifest}
    config = Config()
    for split in ("train", "val", "test"):
        recs = list(records.iter_records(demo_records, split))
        assert {r.split for r in recs} == {split}
        assert all(row_of[r.clip_id]["split"] == split for r in recs), "a record sits in another split"
        clips = {cid for cid, row in row_of.items() if row["split"] == split}
        signs = Counter(r.clip_id for r in recs if r.label_name != "rest")
        rests = Counter(r.clip_id for r in recs if r.label_name == "rest")
        assert set(signs) == clips and set(rests.values()) == {1}
        assert len(rests) >= 0.9 * len(clips)  # demo clips are filmed with the signer at rest around the sign
        if split == "train":
            variants = len(config.fps_targets)
            expected = {
                cid: (variants + 1) // 2 if row_of[cid]["label"] == "unknown" else variants for cid in clips
            }
            assert signs == {cid: n + config.augment_copies for cid, n in expected.items()}
            assert {r.fps_variant for r in recs if r.label_name != "rest"} == set(config.fps_targets)
        else:
            assert set(signs.values()) == {1}
            assert {(r.fps_variant, r.augmentation) for r in recs} == {(config.eval_fps, "none")}
            streams = list(records.iter_stream_records(demo_records, split))
            assert {s.clip_id for s in streams} == clips
            assert all(0 <= s.span[0] < s.span[1] <= len(s.frames) for s in streams)
            assert all(s.label_name == row_of[s.clip_id]["label"] for s in streams)
        assert all(r.frames.shape == (24, 64, 64) for r in recs[:5])
    stats = json.loads((demo_records / "stats.json").read_text())
    assert stats["clips_in_manifest"] == len(manifest) == stats["clips_extracted"] + stats["clips_failed"]
    assert sum(v["fps30"] for v in stats["counts"]["test"].values()) == stats["records"]["test"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_same_input_and_seed_give_byte_identical_shards(demo_ingest, demo_records, tmp_path, workers):
    """Byte-identical shards on a rerun, and with the DirectRunner's worker processes (beam_workers=2)."""
    metrics = run_extract(demo_ingest / "manifest.jsonl", tmp_path, Config(beam_workers=workers))
    paths = sorted(demo_records.glob("*.tfrecord"))
    assert len(paths) == 10 and metrics["clips_failed"] == 0
    for path in paths:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
    assert not list(tmp_path.glob(".tmp-*"))


def test_undecodable_clip_is_reported_not_lost(demo_ingest, tmp_path):
    rows = read_manifest(demo_ingest / "manifest.jsonl")[:6]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    rows[0] = {**rows[0], "path": str(broken)}
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = run_extract(manifest, tmp_path / "out", Config(num_shards=1, augment_copies=0))
    assert (
        metrics["clips_in_manifest"] == 6 and metrics["clips_failed"] == 1 and metrics["clips_extracted"] == 5
    )
    assert metrics["beam_counters"]["clips_extracted"] == 5 and metrics["beam_counters"]["clips_failed"] == 1
    assert metrics["beam_counters"]["records_written"] == sum(metrics["records"].values())
    failures = (tmp_path / "out" / "extract_failures.csv").read_text()
    assert rows[0]["clip_id"] in failures and "undecodable" in failures


def test_cli_data_demo_ingest_extract(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "tinysign.cli", *args], capture_output=True, text=True, check=True
        ).stdout

    cli("data", "demo", "--out", str(tmp_path / "demo"))
    cli(
        "ingest",
        str(tmp_path / "demo"),
        "--out",
        str(tmp_path / "ingest"),
        "--quiet",
        "--set",
        "max_per_class=18",
    )
    out = cli(
        "extract",
        "--manifest",
        str(tmp_path / "ingest" / "manifest.jsonl"),
        "--out",
        str(tmp_path / "rec"),
        "--set",
        "augment_copies=0",
        "--set",
        "fps_targets=[30]",
        "--set",
        "num_frames=8",
        "--set",
        "img_size=32",
    )
    assert "clips in manifest 144 = extracted 144 + failed 0" in out
    frames, labels, _ = records.load_arrays(tmp_path / "rec", "val")
    assert frames.shape[1:] == (8, 32, 32) and set(labels.tolist()) <= set(range(8))


@pytest.mark.skipif(not WLASL_SAMPLE.exists(), reason="shared WLASL sample not present")
def test_real_wlasl_sample_extracts(tmp_path):
    config = Config(min_per_class=2, augment_copies=1, num_shards=1)
    run_ingest([str(WLASL_SAMPLE)], tmp_path / "ingest", config, progress=False)
    metrics = run_extract(tmp_path / "ingest" / "manifest.jsonl", tmp_path / "rec", config)
    assert metrics["clips_extracted"] == 22 and metrics["clips_failed"] == 0
    for split in ("val", "test"):  # one sign window per clip (+ a rest window where it rests), a stream
        assert metrics["records"][f"stream-{split}"] == metrics["clips"][split]
        assert metrics["clips"][split] <= metrics["records"][split] <= 2 * metrics["clips"][split]
    frames, _, _ = records.load_arrays(tmp_path / "rec", "test")
    assert frames.shape[1:] == (24, 64, 64) and frames.std() > 5  # real content, not blank frames


def test_wrong_probed_length_falls_back_to_full_decode(demo_ingest):
    row = next(r for r in read_manifest(demo_ingest / "manifest.jsonl") if r["split"] == "train")
    config = Config()
    classes = [row["label"], "rest"]
    planned = extract_clip(clip_of(row), "train", classes, config).records
    for wrong in ({"frame_count": row["frame_count"] + 7}, {"frame_count": 0}, {"fps": 12.0}):
        again = extract_clip(clip_of({**row, **wrong}), "train", classes, config).records
        assert [r.augmentation for r in again] == [r.augmentation for r in planned]
        for a, b in zip(again, planned, strict=True):
            np.testing.assert_array_equal(a.frames, b.frames)


def test_augmented_copies_draw_within_the_config_ranges(demo_ingest):
    """With every ``augment_copy_*`` range at 0 an augmented copy is exactly its plain FPS variant;
    with the defaults it is not."""
    row = next(r for r in read_manifest(demo_ingest / "manifest.jsonl") if r["split"] == "train")
    ranges = ("time", "rotate", "scale", "shift", "contrast", "brightness")
    for config, same in (
        (Config(augment_copies=2, **{f"augment_copy_{name}": 0.0 for name in ranges}), True),
        (Config(augment_copies=2), False),
    ):
        recs = extract_clip(clip_of(row), "train", [row["label"], "rest"], config).records
        plain = {r.fps_variant: r.frames for r in recs if r.augmentation == "none" and r.label_name != "rest"}
        copies = [r for r in recs if r.augmentation != "none"]
        assert len(copies) == 2
        assert all(np.array_equal(r.frames, plain[r.fps_variant]) == same for r in copies)
