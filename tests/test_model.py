"""Models: shapes, parameter/MAC counts, folded == TimeDistributed, streaming split == end to end."""

from __future__ import annotations

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.model import architectures as models

SMALL = Config(img_size=16, num_frames=8, feature_dim=16)


def _clips(n: int, config: Config, seed: int = 0) -> np.ndarray:
    """Random model inputs (front-end output: img_size / binning per side)."""
    rng = np.random.default_rng(seed)
    side = models.input_size(config)
    return rng.random((n, config.num_frames, side, side, 1), dtype=np.float32)


def _seeded(name: str, num_classes: int, config: Config, seed: int = 1):
    from tinysign.model.backend import keras

    keras().utils.set_random_seed(seed)
    return models.build_model(name, num_classes, config)


def test_s3dconv1d_is_the_seed_size_892k_params_94m_macs():
    model = models.build_model("s3dconv1d", 100, Config(front_end="raw", binning=1))  # the seed's input
    assert model.input_shape == (None, 24, 64, 64, 1) and model.output_shape == (None, 100)
    # conv1 120 + conv2 2,616 + temporal Conv1D(48, 3) over 16*16*24 = 6,144 features 884,784 + dense 4,900
    assert model.count_params() == 120 + 2_616 + (3 * 6_144 * 48 + 48) + (48 * 100 + 100) == 892_420
    macs = 24 * (64 * 64 * 12 * 9 + 32 * 32 * 24 * 9 * 12) + 22 * 48 * 3 * 6_144 + 48 * 100
    assert models.count_macs(model) == macs == 93_786_816


def test_folded_model_equals_timedistributed_reference():
    folded = _seeded("s3dconv1d", 5, SMALL)
    reference = models.build_timedistributed_reference(5, SMALL)
    assert reference.count_params() == folded.count_params()
    models.copy_to_reference(folded, reference)
    x = _clips(3, SMALL)
    expected = reference(x).numpy()
    np.testing.assert_allclose(folded(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.allclose(expected.sum(axis=1), 1.0) and expected.std() > 0


def test_streaming_split_composes_to_the_end_to_end_model():
    model = _seeded("streaming", 4, SMALL)
    frame, head = models.split_streaming(model)
    assert frame.input_shape == (1, 8, 8, 1) and frame.output_shape == (1, 16)  # 16x16 frames, 2x2 binning
    assert head.input_shape == (1, 8, 16) and head.output_shape == (1, 4)
    x = _clips(2, SMALL)
    for clip in x:
        features = np.concatenate([frame(clip[t][np.newaxis]).numpy() for t in range(SMALL.num_frames)])
        streamed = head(features[np.newaxis]).numpy()
        np.testing.assert_allclose(streamed, model(clip[np.newaxis]).numpy(), rtol=1e-5, atol=1e-6)
    assert frame.count_params() + head.count_params() == model.count_params()


def test_streaming_default_fits_the_mcu_budgets():
    config = Config()
    model = models.build_model("streaming", 100, config)
    params, macs = model.count_params(), models.count_macs(model)
    assert params * 1.2 < config.flash_budget_bytes  # int8 weights + per-channel params/overhead
    per_frame = (macs - models.count_macs(models.split_streaming(model)[1])) / config.num_frames
    assert 0 < per_frame + models.count_macs(models.split_streaming(model)[1]) <= 1_000_000  # MACs per frame
    frame = models.with_fixed_batch(models.split_streaming(model)[0], 1)  # own layers: 1 node each
    # int8 activations: the largest input+output pair of any frame layer bounds the arena from below
    largest = max(
        int(np.prod(layer.input_shape[1:])) + int(np.prod(layer.output_shape[1:]))
        for layer in frame.layers[1:]
    )
    assert largest <= config.arena_budget_bytes * 0.8


def test_count_macs_counts_conv_and_dense_per_clip():
    from tinysign.model.backend import keras

    k = keras()
    inputs = k.Input((8, 8, 3))
    x = k.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)  # 4*4 positions * 4 filters * 27
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(5)(x)  # 64 * 5
    assert models.count_macs(k.Model(inputs, x)) == 4 * 4 * 4 * 27 + 64 * 5


def test_fixed_batch_clone_keeps_weights_and_loads_back(tmp_path):
    model = _seeded("s3dconv1d", 3, SMALL)
    fixed = models.with_fixed_batch(model, 1)
    assert fixed.input_shape == (1, 8, 8, 8, 1)
    assert all(None not in layer.output_shape for layer in fixed.layers[1:])  # static for TFLM
    x = _clips(1, SMALL)
    np.testing.assert_allclose(fixed(x).numpy(), model(x).numpy(), rtol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_bad_model_requests_are_one_line_errors(tmp_path):
    with pytest.raises(TinysignError, match="model='resnet'"):
        models.build_model("resnet", 3, SMALL)
    with pytest.raises(TinysignError, match="at least 2 classes"):
        models.build_model("s3dconv1d", 1, SMALL)
    with pytest.raises(TinysignError, match="binning must be one of"):
        models.build_model("streaming", 3, Config(img_size=30, binning=4))
    with pytest.raises(TinysignError, match="not a streaming model"):
        models.split_streaming(models.build_model("s3dconv1d", 3, SMALL))
    with pytest.raises(TinysignError, match="tinysign train"):
        models.load_model(tmp_path / "missing.keras")
