"""Keras model -> ``.tflite`` bytes: float32, or full-integer INT8 with int8 input and output.

PTQ follows tflite-micro's ``ptq.py``: ``optimizations=[DEFAULT]``, a representative dataset,
``TFLITE_BUILTINS_INT8`` and int8 input/output; the batch is fixed to 1 (TFLM needs static shapes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


def anchored(samples: Iterator[list[np.ndarray]], low: float, high: float) -> Iterator[list[np.ndarray]]:
    """``samples`` clipped to [low, high], then one range anchor: the first with its min/max set to them.

    PTQ takes every tensor's range from the min/max seen during calibration. The anchor makes the
    model input's range exactly [low, high] (images: int8 = uint8 - 128) while changing only two
    values of one sample, so other activations move at most around those two positions. (A
    fake-quant node in front of the model does not work: before a CONV_2D the converter keeps the
    calibrated range and inserts DEQUANTIZE + QUANTIZE.)
    """
    first = None
    for sample in samples:
        x = np.clip(sample[0], low, high).astype(np.float32)
        first = x.copy() if first is None else first
        yield [x]
    if first is not None:
        flat = first.reshape(-1)
        flat[flat.argmin()] = low
        flat[flat.argmax()] = high
        yield [first]


def clip_samples(inputs: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for a whole-clip model: ``[(1, T, h, w, 1) float32]`` per clip."""
    for clip in inputs:
        yield [clip[np.newaxis]]


def frame_samples(inputs: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for the per-frame model: every frame ``(1, H, W, 1)`` of every clip."""
    for clip in inputs:
        for frame in clip:
            yield [frame[np.newaxis]]


def window_samples(windows: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for a head: ``(1, T, F)`` float ring buffers."""
    for window in windows:
        yield [window[np.newaxis].astype(np.float32)]


def convert(
    model: Any,
    input_shape: tuple[int, ...],
    *,
    int8: bool,
    representative: Callable[[], Iterator[list[np.ndarray]]] | None = None,
) -> bytes:
    """Keras model -> ``.tflite`` bytes with a fixed input shape (batch 1).

    Args:
        model: a float or QAT ``tf_keras`` model.
        input_shape: full input shape including the batch of 1.
        int8: full-integer INT8 (int8 input and output) instead of float32.
        representative: zero-argument generator factory of calibration samples (INT8 only).
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec(input_shape, tf.float32, name="input")])
    def serve(x: Any) -> Any:
        return model(x, training=False)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative is not None:
            converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())
