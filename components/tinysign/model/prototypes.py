"""Few-shot enrollment: signs as prototypes of the deployed model's embedding, and an INT8 head that
picks the nearest prototype.

The embedding of a clip is what the device already computes: the INT8 frame model's outputs in the
ring buffer (the last ``T`` frames), averaged over time and L2-normalised. A sign's prototype is the
normalised mean of its clips' embeddings; the nearest prototype is the one of highest cosine similarity.

The head takes the ring buffer, averages it over time and multiplies it with the prototype matrix
minus its mean row ``m`` (the offset): ``(p_c - m) . x``. That picks the same sign as the cosine
``p_c . x / |x|`` — dividing every score of a clip by the same ``|x|`` and subtracting the same
``m . x`` from each cannot change the argmax — but it is what survives int8: the frame model's features
are non-negative (ReLU6), so every embedding points the same way, all cosines lie in 0.95-1.0 and the
gaps between signs (~0.001) are finer than int8 steps of the cosines themselves; ``p_c - m`` keeps only
the differences. Its weights are one row of int8 numbers per sign (one scale for the whole matrix);
adding a sign adds the row ``p - m`` with the offset stored beside the head, removing one deletes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysign.model.backend import keras
from tinysign.model.export import anchored, convert, window_samples


def embedding(window: np.ndarray) -> np.ndarray:
    """A ring buffer of dequantized features ``(T, F)`` -> the unit-length time average ``(F,)``."""
    mean = np.asarray(window, dtype=np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-9)).astype(np.float32)


def prototype(embeddings: np.ndarray) -> np.ndarray:
    """The normalised mean of a sign's clip embeddings ``(k, F)`` -> ``(F,)``."""
    return embedding(embeddings)


def prototypes_of(windows: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """One prototype per sign ``{sign: ring buffers of its clips}``: the normalised mean of the clips'
    embeddings."""
    return {sign: prototype(np.stack([embedding(w) for w in ws])) for sign, ws in windows.items()}


def offset_of(prototypes: np.ndarray) -> np.ndarray:
    """The head's offset ``m``: the mean of the prototype rows ``(C, F)`` -> ``(F,)``."""
    return np.asarray(prototypes, dtype=np.float32).mean(axis=0)


def build_head(prototypes: np.ndarray, num_frames: int) -> Any:
    """Keras head ``(1, T, F) -> (1, C)``: scores ``(p_c - m) . mean_t(x)`` whose argmax is the cosine
    nearest of the ``(C, F)`` prototypes (see the module docstring)."""
    k = keras()
    classes, features = prototypes.shape
    inputs = k.Input((num_frames, features), batch_size=1, name="features")
    x = k.layers.GlobalAveragePooling1D(name="time_average")(inputs)
    dense = k.layers.Dense(classes, use_bias=False, name="prototypes")
    outputs = dense(x)
    rows = np.asarray(prototypes, dtype=np.float32) - offset_of(prototypes)
    dense.set_weights([rows.T])
    return k.Model(inputs, outputs, name="prototype_head")


def export_head(
    prototypes: dict[str, np.ndarray],
    windows: list[np.ndarray],
    num_frames: int,
    feature_range: tuple[float, float],
) -> dict[str, bytes]:
    """The prototype head as INT8 (input = the frame model's int8 output, unchanged: ``feature_range``)
    and float32 ``.tflite``, calibrated on the ring buffers ``windows``."""
    matrix = np.stack(list(prototypes.values()))
    head = build_head(matrix, num_frames)
    shape = (1, num_frames, matrix.shape[1])
    samples = np.stack(windows)
    int8 = convert(
        head, shape, int8=True, representative=lambda: anchored(window_samples(samples), *feature_range)
    )
    return {"int8": int8, "float32": convert(head, shape, int8=False)}
