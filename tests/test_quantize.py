"""Quantize: PTQ and QAT give int8-in/int8-out models LiteRT runs; calibration never reads test.

The tiny records -> trained models -> quantized folders come from tests/tiny_models.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write_pattern_records
from tests.tiny_models import KINDS, PER_SPLIT, SMALL, quantized_model, shared_records, trained_model
from tinysign.data import records
from tinysign.data.frontend import ZERO_POINT
from tinysign.errors import TinysignError
from tinysign.model.architectures import load_model, split_streaming
from tinysign.model.bias_correction import corrected_head
from tinysign.model.files import load_quantized, tflite_name
from tinysign.quantize import run_quantize
from tinysign.runtime.litert import LiteModel
from tinysign.runtime.streaming import lite_classifier


def _assert_int8_models_run(quant_dir: Path, records_dir: Path, kind: str, method: str) -> None:
    quant = load_quantized(quant_dir)
    meta = json.loads((quant_dir / "metrics.json").read_text())
    assert quant.kind == kind and meta["method"] == method and quant.labels == ["gloss0", "gloss1", "gloss2"]
    parts = ("model",) if kind == "s3dconv1d" else ("frame", "head")
    for part in parts:
        for precision in ("int8", "float32"):
            assert quant.path(part, precision).name == tflite_name(kind, part, precision, 3)
            model = LiteModel(quant.path(part, precision))
            assert model.input_shape[0] == 1  # fixed batch of 1
            expected = np.int8 if precision == "int8" else np.float32
            assert model.input_dtype == expected
            assert (model.output_qparams is None) == (precision == "float32")
    # The int8 input is exactly the front end's integer output (frame differences in grey levels:
    # scale 1/255, zero point 0), whatever the calibration data's largest difference was.
    scale, zero_point = LiteModel(quant.path(parts[0], "int8")).input_qparams
    assert quant.front.kind == "diff" and zero_point == ZERO_POINT["diff"] == 0
    assert scale == pytest.approx(1 / 255, rel=1e-6)
    clips, _, _ = records.load_arrays(records_dir, "test")
    for precision in ("int8", "float32"):
        out = lite_classifier(quant, precision).classify(clips[0])
        assert out.shape == (1, 3) and out.dtype == (np.int8 if precision == "int8" else np.float32)
    if kind == "streaming":  # frame int8 output goes into the ring buffer as the head's int8 input
        assert meta["ring_buffer_identity"] is True
        assert (
            LiteModel(quant.path("frame", "int8")).output_qparams
            == LiteModel(quant.path("head", "int8")).input_qparams
        )


@pytest.mark.parametrize("kind", KINDS)
def test_ptq_exports_int8_io_models_that_litert_runs(tmp_path_factory, kind):
    quant_dir = quantized_model(tmp_path_factory, kind, "ptq")
    _assert_int8_models_run(quant_dir, shared_records(tmp_path_factory), kind, "ptq")
    meta = json.loads((quant_dir / "metrics.json").read_text())
    assert meta["calibration"]["split"] == "train" and meta["calibration"]["count"] == 12
    assert all(Path(quant_dir / name).stat().st_size == size for name, size in meta["sizes_bytes"].items())
    assert (quant_dir / "labels.txt").read_text().split() == ["gloss0", "gloss1", "gloss2"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_qat_fine_tunes_and_exports_int8_io_models(tmp_path_factory, kind):
    quant_dir = quantized_model(tmp_path_factory, kind, "qat")
    _assert_int8_models_run(quant_dir, shared_records(tmp_path_factory), kind, "qat")
    qat = json.loads((quant_dir / "metrics.json").read_text())["qat"]
    assert qat["epochs"] == 1 and len(qat["history"]["loss"]) == 1 and "val_loss" in qat["history"]


def _rewrite_split(records_dir: Path, split: str, seed: int) -> None:
    """Replace ``split`` with noise clips (same ids, labels shuffled): a poisoned split."""
    rng = np.random.default_rng(seed)
    originals = list(records.iter_records(records_dir, split))
    for path in records.shard_paths(records_dir, split):
        path.unlink()
    with open(records_dir / records.shard_name(split, 0, 1), "wb") as stream:
        for rec in originals:
            noise = rng.integers(0, 256, rec.frames.shape, dtype=np.uint8)
            poisoned = records.ClipRecord(
                noise,
                int(rng.integers(0, 3)),
                rec.label_name,
                rec.clip_id,
                rec.source_video,
                rec.signer,
                split,
                rec.fps_variant,
            )
            records.write_tfrecord(stream, records.serialize(poisoned))


@pytest.mark.slow
def test_calibration_never_touches_the_test_split(tmp_path_factory, tmp_path):
    """Poisoning every test clip leaves the INT8 bytes identical; poisoning train changes them."""
    model_dir = trained_model(tmp_path_factory, "streaming")
    config = SMALL.replace(model="streaming", calibration_samples=6)

    def int8_bytes(records_dir: Path, out: str) -> bytes:
        run_quantize(model_dir, records_dir, tmp_path / out, config)
        return b"".join(
            (tmp_path / out / tflite_name("streaming", p, "int8", 3)).read_bytes() for p in ("frame", "head")
        )

    clean = write_pattern_records(
        tmp_path / "clean", num_classes=3, per_split=PER_SPLIT, num_frames=8, img_size=16
    )
    baseline = int8_bytes(clean, "q-clean")

    test_poisoned = write_pattern_records(
        tmp_path / "test-poisoned", num_classes=3, per_split=PER_SPLIT, num_frames=8, img_size=16
    )
    _rewrite_split(test_poisoned, "test", seed=1)
    assert int8_bytes(test_poisoned, "q-test-poisoned") == baseline

    train_poisoned = write_pattern_records(
        tmp_path / "train-poisoned", num_classes=3, per_split=PER_SPLIT, num_frames=8, img_size=16
    )
    _rewrite_split(train_poisoned, "train", seed=1)
    assert int8_bytes(train_poisoned, "q-train-poisoned") != baseline  # the check can see calibration data

    ids = json.loads((tmp_path / "q-clean" / "metrics.json").read_text())["calibration"]["clip_ids"]
    assert len(ids) == 6 and all(i.startswith("train-") for i in ids)


def test_records_of_another_model_are_one_clear_error(tmp_path_factory, tmp_path):
    model_dir = trained_model(tmp_path_factory, "s3dconv1d")
    other = write_pattern_records(
        tmp_path / "other", num_classes=4, per_split={"train": 2}, num_frames=8, img_size=16
    )
    with pytest.raises(TinysignError, match="labels"):
        run_quantize(model_dir, other, tmp_path / "q", SMALL)
    with pytest.raises(TinysignError, match="tinysign train"):
        run_quantize(tmp_path / "missing", shared_records(tmp_path_factory), tmp_path / "q", SMALL)


def test_bias_correction_removes_a_feature_offset_exactly(tmp_path_factory):
    """The corrected head on features shifted by the INT8 frame model's mean error gives the float
    head's output on the unshifted features (the float model itself is unchanged)."""
    head = split_streaming(load_model(trained_model(tmp_path_factory, "streaming") / "model.keras"))[1]
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 2, (4, *head.input_shape[1:])).astype(np.float32)
    bias = rng.normal(0, 0.05, head.input_shape[-1]).astype(np.float32)
    corrected = corrected_head(head, bias)
    for window in features:
        x = window[np.newaxis]
        expected = head(x, training=False).numpy()
        assert np.allclose(corrected(x + bias, training=False).numpy(), expected, atol=1e-5)
        assert not np.allclose(head(x + bias, training=False).numpy(), expected, atol=1e-5)
    summary = json.loads((quantized_model(tmp_path_factory, "streaming") / "metrics.json").read_text())
    assert summary["bias_correction"]["applied"] and summary["bias_correction"]["max_abs_feature_bias"] >= 0
