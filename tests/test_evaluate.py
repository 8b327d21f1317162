"""Evaluate: every file written with sane values; the streaming path equals the Keras model."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from tests.conftest import pattern_clip
from tests.tiny_models import SMALL, quantized_model, shared_records, trained_model
from tinysign.data import records
from tinysign.data.frontend import FrontEnd
from tinysign.errors import TinysignError
from tinysign.evaluate import run_evaluate, softmax_sanity
from tinysign.model.baselines import FeatureBank, TrivialBaselines
from tinysign.model.files import load_quantized
from tinysign.runtime.litert import LiteModel, dequantize, quantize
from tinysign.runtime.streaming import RingBuffer, StreamingClassifier


@pytest.mark.parametrize("kind", ["s3dconv1d", "streaming"])
def test_evaluate_writes_every_file_with_sane_values(tmp_path_factory, tmp_path, kind):
    records_dir = shared_records(tmp_path_factory)
    m = run_evaluate(quantized_model(tmp_path_factory, kind), records_dir, tmp_path, SMALL)
    num_test = 3 * 2
    for precision in ("int8", "float32"):
        matrix = np.load(tmp_path / f"{precision}_confusion_matrix.npy")
        assert matrix.shape == (3, 3) and matrix.sum() == num_test
        assert (tmp_path / f"{precision}_confusion_matrix.png").stat().st_size > 1000
        rows = list(csv.DictReader(open(tmp_path / f"{precision}_classification_report.csv")))
        assert [r["label"] for r in rows[:3]] == ["gloss0", "gloss1", "gloss2"]
        assert m[precision]["accuracy"] == pytest.approx(np.trace(matrix) / num_test)
        assert m[precision]["top5_accuracy"] == 1.0  # 3 classes
        sanity = m[precision]["softmax_sanity"]
        assert sanity["max_abs_sum_error"] <= 3 / 256 + 1e-6  # 3 int8 outputs, 1/256 steps
        assert 1 / 3 - 1 / 256 <= sanity["max_prob_min"] <= sanity["max_prob_mean"]
        assert sanity["max_prob_mean"] <= sanity["max_prob_max"] <= 1
        assert 0 <= sanity["all_equal_fraction"] <= 1
        assert m[precision]["seconds_per_clip"] > 0
    assert m["accuracy_delta"] == pytest.approx(m["int8_accuracy"] - m["float32_accuracy"])
    assert 0 <= m["prediction_agreement"] <= 1 and m["num_test_clips"] == num_test
    assert m["baselines"]["majority"]["accuracy"] == pytest.approx(1 / 3)
    assert 0 <= m["baselines"]["nearest_neighbour"]["accuracy"] <= 1
    assert 0 <= m["baselines"]["motion_nn"]["accuracy"] <= 1
    name, accuracy = m["strongest_baseline"]["name"], m["strongest_baseline"]["accuracy"]
    assert accuracy == max(b["accuracy"] for b in m["baselines"].values()) == m["baselines"][name]["accuracy"]
    assert json.loads((tmp_path / "metrics.json").read_text())["int8_accuracy"] == m["int8_accuracy"]


def test_streaming_deployment_path_equals_the_keras_model(tmp_path_factory):
    """float32 frame model per frame -> ring buffer -> head == the end-to-end Keras model."""
    from tinysign.model.architectures import load_model

    quant = load_quantized(quantized_model(tmp_path_factory, "streaming"))
    keras_model = load_model(trained_model(tmp_path_factory, "streaming") / "model.keras")
    clips, _, _ = records.load_arrays(shared_records(tmp_path_factory), "test")
    stream = StreamingClassifier(
        LiteModel(quant.path("frame", "float32")),
        LiteModel(quant.path("head", "float32")),
        quant.front.stream(),
    )
    assert quant.front == FrontEnd("diff", 2)  # the defaults: frame differences, 2x2 binning
    for clip in clips[:3]:
        inputs = quant.front.clip(clip)[np.newaxis, ..., np.newaxis]
        expected = keras_model(inputs, training=False).numpy()
        np.testing.assert_allclose(stream.classify(clip), expected, rtol=1e-4, atol=1e-5)


def test_ring_buffer_keeps_the_last_t_features_oldest_first():
    buffer = RingBuffer(num_frames=3, feature_dim=2, dtype=np.int8)
    for value in range(1, 6):
        buffer.push(np.full(2, value, dtype=np.int8))
        assert buffer.full == (value >= 3)
    assert buffer.data[:, 0].tolist() == [3, 4, 5] and buffer.nbytes == 6


def test_quantize_dequantize_round_trip_and_softmax_sanity():
    pixels = np.arange(256, dtype=np.uint8)
    x = pixels.astype(np.float32) / 255
    q = quantize(x, (1 / 255, -128), np.int8)
    assert (q.astype(np.int16) == pixels.astype(np.int16) - 128).all()  # the int8 input is uint8 - 128
    np.testing.assert_allclose(dequantize(q, (1 / 255, -128)), x, atol=1e-6)
    raw = np.array([[127, -128, -128], [0, 0, 0]], dtype=np.int8)
    sanity = softmax_sanity(raw, dequantize(raw, (1 / 256, -128)))
    assert sanity["all_equal_fraction"] == 0.5 and sanity["max_prob_max"] == pytest.approx(255 / 256)


def test_trivial_baselines_score_test_clips_one_at_a_time():
    rng = np.random.default_rng(0)
    train = FeatureBank()
    for label in (0, 2, 2):  # class 2 is the majority
        train.add(pattern_clip(label, rng, 8, 16), label)
    trivial = TrivialBaselines(train)
    for label in (0, 2):  # a new clip of each class: its square moves the same way, the noise differs
        trivial.score(pattern_clip(label, rng, 8, 16), label)
    results = trivial.results()
    assert results["majority"] == {"accuracy": 0.5, "class": 2}
    assert results["motion_nn"]["accuracy"] == 1.0 and trivial.count == 2


def test_evaluate_without_a_train_split_is_one_line(tmp_path_factory, tmp_path):
    records_dir = tmp_path / "records"
    shutil.copytree(shared_records(tmp_path_factory), records_dir)
    for shard in records_dir.glob("train-*"):
        shard.unlink()
    with pytest.raises(TinysignError, match="no train shards .* run `tinysign extract` first"):
        run_evaluate(quantized_model(tmp_path_factory, "streaming"), records_dir, tmp_path / "eval", SMALL)
