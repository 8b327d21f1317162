"""The TFRecord contract: framing, Example round-trip, tf.data reading."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import write_pattern_records
from tinysign.data import records
from tinysign.errors import TinysignError


def test_records_round_trip_through_tf_data(tmp_path):
    out = write_pattern_records(
        tmp_path / "r", num_classes=2, per_split={"train": 3}, num_frames=6, img_size=16
    )
    frames, labels, clip_ids = records.load_arrays(out, "train")
    assert frames.shape == (6, 6, 16, 16) and frames.dtype == np.uint8
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    ds = records.make_dataset(out, "train", batch_size=4)
    x, y = next(iter(ds))
    assert x.shape == (4, 6, 16, 16, 1) and str(x.dtype) == "<dtype: 'float32'>"
    np.testing.assert_allclose(x.numpy()[0, ..., 0], frames[0] / 255.0, rtol=1e-6)
    assert y.numpy().tolist() == [0, 0, 0, 1]
    assert clip_ids[0] == "train-0-0"


def test_corrupt_shard_is_one_clear_error(tmp_path):
    out = write_pattern_records(
        tmp_path / "r", num_classes=2, per_split={"train": 2}, num_frames=4, img_size=8
    )
    shard = records.shard_paths(out, "train")[0]
    data = bytearray(shard.read_bytes())
    data[40] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(TinysignError, match="corrupt TFRecord"):
        records.load_arrays(out, "train")


def test_missing_records_dir_says_run_extract(tmp_path):
    with pytest.raises(TinysignError, match="tinysign extract"):
        records.read_schema(tmp_path)
