"""The training loss: cross-entropy on class indices, optionally with label smoothing."""

from __future__ import annotations

import functools
from typing import Any

from tinysign.config import Config
from tinysign.model.backend import keras


def loss(config: Config) -> Any:
    """Cross-entropy on class indices, the targets smoothed by ``label_smoothing``: the true class
    ``1 - s + s / C``, every other class ``s / C``. A model trained so is less sure of itself where it
    is often wrong, which is what the recognizer's threshold needs (live spotting)."""
    if not config.label_smoothing:
        return "sparse_categorical_crossentropy"
    return _smoothed_loss_class()(config.label_smoothing)


@functools.cache
def _smoothed_loss_class() -> type:
    k = keras()

    @k.utils.register_keras_serializable(package="tinysign")
    class SmoothedSparseCrossentropy(k.losses.Loss):
        """Sparse categorical cross-entropy with label smoothing (tf-keras has it only for one-hot)."""

        def __init__(self, smoothing: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.smoothing = float(smoothing)

        def call(self, y_true: Any, y_pred: Any) -> Any:
            import tensorflow as tf

            classes = tf.shape(y_pred)[-1]
            one_hot = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), classes)
            return k.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.smoothing)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "smoothing": self.smoothing}

    return SmoothedSparseCrossentropy
