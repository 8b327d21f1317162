"""Quantization-aware training (tensorflow-model-optimization, tf-keras only).

:func:`qat_model` wraps a float model for QAT (our ``BatchReshape`` stays unquantized),
:func:`init_ranges` starts its quantizers at the float model's observed ranges,
:func:`set_input_range` pins the input quantizer (images: int8 = uint8 - 128), :func:`fine_tune`
trains it for ``qat_epochs`` on the training split (val only for monitoring) and
:func:`streaming_qat` does all of it for the two streaming halves, trained end to end.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.config import Config
from tinysign.data import inputs, records
from tinysign.data.frontend import input_range
from tinysign.errors import TinysignError
from tinysign.model.architectures import batch_reshape_class, custom_objects, frame_features, with_fixed_batch
from tinysign.model.backend import keras
from tinysign.model.losses import loss as training_loss

QAT_LR_FACTOR = 0.1  # QAT fine-tunes at learning_rate * QAT_LR_FACTOR


@functools.cache
def _noop_quantize_config() -> type:
    import tensorflow_model_optimization as tfmot

    class NoOpQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """Leave a layer unquantized (``BatchReshape``: a pure reshape; ``GaussianNoise``: training only)."""

        def get_weights_and_quantizers(self, layer: Any) -> list[Any]:
            return []

        def get_activations_and_quantizers(self, layer: Any) -> list[Any]:
            return []

        def set_quantize_weights(self, layer: Any, quantize_weights: list[Any]) -> None:
            pass

        def set_quantize_activations(self, layer: Any, quantize_activations: list[Any]) -> None:
            pass

        def get_output_quantizers(self, layer: Any) -> list[Any]:
            return []

        def get_config(self) -> dict[str, Any]:
            return {}

    return NoOpQuantizeConfig


def qat_model(model: Any, input_range: tuple[float, float] | None = None) -> Any:
    """``tfmot`` quantize-aware copy of a float model (float weights kept).

    Args:
        model: float ``tf_keras`` functional model (may contain ``BatchReshape``, ``GaussianNoise``).
        input_range: start the input quantizer at this range (it only widens during training).
    """
    import tensorflow_model_optimization as tfmot

    k = keras()
    qk = tfmot.quantization.keras
    noop = _noop_quantize_config()
    # pure reshapes, and training-only noise (identity at inference), stay unquantized
    passthrough = (custom_objects()["BatchReshape"], k.layers.GaussianNoise)

    def annotate(layer: Any) -> Any:
        if isinstance(layer, passthrough):
            return qk.quantize_annotate_layer(layer, quantize_config=noop())
        return layer

    with qk.quantize_scope({**custom_objects(), "NoOpQuantizeConfig": noop}):
        annotated = k.models.clone_model(model, clone_function=annotate)
        annotated.set_weights(model.get_weights())
        quantized = qk.quantize_apply(qk.quantize_annotate_model(annotated))
    if input_range is not None:
        set_input_range(quantized, input_range)
    return quantized


def init_ranges(quantized: Any, float_model: Any, samples: np.ndarray) -> None:
    """Start every activation quantizer of a QAT model at the float model's observed range.

    tfmot starts them at [-6, 6] and moves them by an EMA with decay 0.999, so a few hundred
    fine-tuning steps leave them far too wide (features quantized to a handful of levels). This sets
    ``post_activation``/``output`` ranges from the float layer outputs and ``pre_activation`` ranges
    from the same layer without its activation, over ``samples`` (calibration inputs, train split).
    """
    k = keras()
    wrappers = [
        w
        for w in quantized.layers
        if type(w).__name__ == "QuantizeWrapperV2"
        and any(v.name.endswith(("activation_min:0", "output_min:0")) for v in w.weights)
    ]
    layers = [float_model.get_layer(w.layer.name) for w in wrappers]
    probe = k.Model(float_model.inputs, [t for layer in layers for t in (layer.input, layer.output)])
    linear = [_without_activation(layer) for layer in layers]
    batch = max(1, 1_000_000 // int(np.prod(samples.shape[1:])))  # bounds the layer outputs held at once
    lows = np.full((len(layers), 2), np.inf)
    highs = np.full((len(layers), 2), -np.inf)
    for i in range(0, len(samples), batch):
        outs = probe(samples[i : i + batch], training=False)
        for j, twin in enumerate(linear):
            values = [outs[2 * j + 1], twin(outs[2 * j]) if twin is not None else outs[2 * j + 1]]
            for col, value in enumerate(values):
                value = np.asarray(value)
                lows[j, col] = min(lows[j, col], float(value.min()))
                highs[j, col] = max(highs[j, col], float(value.max()))
    for j, wrapper in enumerate(wrappers):
        for var in wrapper.weights:
            col = 1 if "pre_activation_" in var.name else 0
            if var.name.endswith(("activation_min:0", "output_min:0")):
                var.assign(min(lows[j, col], 0.0))
            elif var.name.endswith(("activation_max:0", "output_max:0")):
                var.assign(max(highs[j, col], 0.0))


def _without_activation(layer: Any) -> Any:
    """A linear twin of ``layer`` (same weights, no activation), or ``None`` if it has none."""
    if getattr(layer, "activation", None) is None:
        return None
    twin = type(layer).from_config({**layer.get_config(), "activation": "linear"})
    twin.build(layer.input_shape)
    twin.set_weights(layer.get_weights())
    return twin


def set_input_range(quantized: Any, input_range: tuple[float, float]) -> None:
    """Set the min/max of a QAT model's input quantizer (``quantize_layer``)."""
    layers = [layer for layer in quantized.layers if type(layer).__name__ == "QuantizeLayer"]
    if len(layers) != 1:
        raise ValueError(f"{quantized.name}: expected one input QuantizeLayer, found {len(layers)}")
    for var in layers[0].weights:
        if var.name.endswith("_min:0"):
            var.assign(float(input_range[0]))
        elif var.name.endswith("_max:0"):
            var.assign(float(input_range[1]))


def fine_tune(model: Any, records_dir: str | Path, config: Config) -> dict[str, list[float]]:
    """QAT fine-tuning for ``config.qat_epochs`` on train (val for monitoring); returns the history."""
    k = keras()
    k.utils.set_random_seed(config.seed)
    train, val = _datasets(records_dir, config)
    model.compile(
        optimizer=k.optimizers.Adam(config.learning_rate * QAT_LR_FACTOR),
        loss=training_loss(config),
        metrics=["accuracy"],
    )
    history = model.fit(train, validation_data=val, epochs=config.qat_epochs, verbose=2)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def _datasets(records_dir: str | Path, config: Config) -> tuple[Any, Any]:
    train = records.make_dataset(
        records_dir,
        "train",
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        transform=inputs.model_input(config, training=True),
    )
    try:
        val = records.make_dataset(
            records_dir, "val", config.batch_size, transform=inputs.model_input(config, training=False)
        )
    except TinysignError:
        val = None  # no val shards: fine-tune without monitoring
    return train, val


def streaming_qat(
    frame: Any, head: Any, samples: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Any, Any, dict[str, list[float]]]:
    """QAT of the two streaming halves, trained end to end as ``head(stack(frame(x_t)))``.

    ``samples`` (front-end output of training clips) initialise the quantization ranges
    (see :func:`init_ranges`).
    """
    k = keras()
    reshape = batch_reshape_class()
    frame_any, head_any = with_fixed_batch(frame, None), with_fixed_batch(head, None)
    q_frame = qat_model(frame_any, input_range=input_range(config.front_end))
    init_ranges(q_frame, frame_any, samples.reshape(-1, *samples.shape[2:]))
    features = frame_features(frame, samples)
    q_head = qat_model(head_any, input_range=(min(0.0, float(features.min())), float(features.max())))
    init_ranges(q_head, head_any, features)
    t, f = int(head.input_shape[1]), int(head.input_shape[2])
    h, w, c = (int(d) for d in frame.input_shape[1:])
    clips = k.Input((t, h, w, c), name="frames")
    x = reshape((h, w, c), name="fold_time")(clips)
    x = reshape((t, f), name="stack")(q_frame(x))
    joint = k.Model(clips, q_head(x), name="streaming_qat")
    history = fine_tune(joint, records_dir, config)
    set_input_range(q_frame, input_range(config.front_end))
    return q_frame, q_head, history


def qat_notes(history: dict[str, list[float]] | None, config: Config) -> dict[str, Any]:
    """The ``qat`` entry of the quantize summary (nothing for PTQ)."""
    if history is None:
        return {}
    return {
        "qat": {
            "epochs": config.qat_epochs,
            "learning_rate": config.learning_rate * QAT_LR_FACTOR,
            "history": history,
        }
    }
