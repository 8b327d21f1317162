"""Few-shot enrollment: signs as prototypes of the deployed model's embedding, and an INT8 head that
picks the nearest prototype.

The embedding of a clip is what the device already computes: the INT8 frame model's outputs in the
ring buffer (the last ``T`` frames), averaged over time and L2-normalised. A sign's prototype is the
normalised mean of its clips' embeddings. The head takes the ring buffer, averages it over time,
L2-normalises it and multiplies it with the prototype matrix (a normalised dot product = cosine
similarity, one output per sign); the top output is the sign. Its weights are the prototypes as one
row of int8 numbers per sign (one scale for the whole matrix, since every row has norm 1), so adding
a sign adds a row and removing one deletes it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinysign.model.backend import keras


def embedding(window: np.ndarray) -> np.ndarray:
    """A ring buffer of dequantized features ``(T, F)`` -> the unit-length time average ``(F,)``."""
    mean = np.asarray(window, dtype=np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-9)).astype(np.float32)


def prototype(embeddings: np.ndarray) -> np.ndarray:
    """The normalised mean of a sign's clip embeddings ``(k, F)`` -> ``(F,)``."""
    return embedding(embeddings)


def build_head(prototypes: np.ndarray, num_frames: int) -> Any:
    """Keras head ``(1, T, F) -> (1, C)`` cosine similarities with the ``(C, F)`` prototypes."""
    import tensorflow as tf

    k = keras()
    classes, features = prototypes.shape
    inputs = k.Input((num_frames, features), batch_size=1, name="features")
    x = k.layers.GlobalAveragePooling1D(name="time_average")(inputs)
    x = k.layers.Lambda(lambda v: tf.math.l2_normalize(v, axis=-1), name="unit_length")(x)
    dense = k.layers.Dense(classes, use_bias=False, name="prototypes")
    outputs = dense(x)
    dense.set_weights([np.asarray(prototypes, dtype=np.float32).T])
    return k.Model(inputs, outputs, name="prototype_head")
