"""The two models: the faithful S3DConv1D and the streaming MCU variant.

Both take float32 clips ``(B, T, H, W, 1)`` in [0, 1] and return class probabilities ``(B, C)``.

Design choices (all numerically identical to the seed's layers):

* **Time folded into batch.** Per-frame layers run on ``(B*T, H, W, C)`` after a
  :func:`batch_reshape_class` layer (``tf.reshape`` to ``(-1, *target_shape)``), instead of
  ``TimeDistributed`` (which unrolls in Keras 3 and breaks TFLM). It is the only custom layer; at
  batch size 1 it converts to one TFLite ``RESHAPE``.
* **Temporal Conv1D as Conv2D.** ``Conv1D(48, 3)`` over ``(B, T, F)`` is written as
  ``Reshape((1, T, F))`` + ``Conv2D(48, (1, 3))`` + ``GlobalAveragePooling2D`` — the same
  arithmetic, but layers that tensorflow-model-optimization (QAT) and TFLM support natively.
  QAT only needs a no-op quantize config for ``BatchReshape`` (see :func:`custom_objects`).
* **Fixed batch for export.** ``build_model(..., batch_size=1)`` or :func:`with_fixed_batch`
  (clone of a trained model with its weights) gives static shapes everywhere (TFLM needs them).

The streaming model is one end-to-end model whose layers are named ``frame_*`` (per-frame CNN ->
``feature_dim`` vector) and ``head_*`` (temporal conv + GAP + softmax over the ``T`` stacked
vectors); :func:`split_streaming` rebuilds the two halves from those same layer objects (shared
weights), so ``head(stack(frame(x_t) for t)) == model(x)``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.config import MODEL_NAMES, Config
from tinysign.errors import TinysignError
from tinysign.model.backend import keras

# Faithful seed layers.
S3D_CONV_FILTERS = (12, 24)
S3D_TEMPORAL_FILTERS = 48
TEMPORAL_KERNEL = 3
BN_MOMENTUM = 0.9


@functools.cache
def batch_reshape_class() -> type:
    """The ``BatchReshape`` layer class (defined lazily so importing this module stays light)."""
    k = keras()

    @k.utils.register_keras_serializable(package="tinysign")
    class BatchReshape(k.layers.Layer):
        """``tf.reshape(x, (-1, *target_shape))``: folds time into batch or unfolds it back.

        Unlike ``keras.layers.Reshape`` it may change the batch dimension. With a known batch
        size the output shape is fully static (so TFLite gets a constant-shape RESHAPE).
        """

        def __init__(self, target_shape: tuple[int, ...], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.target_shape = tuple(int(d) for d in target_shape)

        def _batch(self, input_shape: Any) -> int | None:
            shape = list(input_shape)
            if any(d is None for d in shape):
                return None
            total = math.prod(int(d) for d in shape)
            size = math.prod(self.target_shape)
            if total % size:
                raise ValueError(f"{self.name}: cannot reshape {shape} to (-1, {self.target_shape})")
            return total // size

        def call(self, inputs: Any) -> Any:
            import tensorflow as tf

            batch = self._batch(inputs.shape)
            return tf.reshape(inputs, (-1 if batch is None else batch, *self.target_shape))

        def compute_output_shape(self, input_shape: Any) -> Any:
            import tensorflow as tf

            return tf.TensorShape((self._batch(input_shape), *self.target_shape))

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "target_shape": list(self.target_shape)}

    return BatchReshape


def custom_objects() -> dict[str, type]:
    """Custom classes our models contain (for ``load_model`` / ``tfmot...quantize_scope``)."""
    return {"BatchReshape": batch_reshape_class()}


def input_size(config: Config) -> int:
    """The model's frame side: the records' ``img_size`` after the front end's ``binning``."""
    return config.img_size // config.binning


def build_model(name: str, num_classes: int, config: Config, batch_size: int | None = None) -> Any:
    """Build an uncompiled model.

    Args:
        name: ``s3dconv1d`` (faithful seed) or ``streaming`` (MCU variant).
        num_classes: number of output classes.
        config: uses ``num_frames``, ``img_size`` (and ``feature_dim`` for streaming).
        batch_size: ``None`` (training) or a fixed batch, e.g. 1 for TFLite/TFLM export.

    Returns:
        A functional ``tf_keras.Model``: ``(B, T, H, W, 1)`` float32 -> ``(B, num_classes)`` softmax.
    """
    if name not in MODEL_NAMES:
        raise TinysignError(f"model={name!r}: unknown model; choose one of {MODEL_NAMES}")
    if num_classes < 2:
        raise TinysignError(f"num_classes={num_classes}: need at least 2 classes to train")
    builder = _build_s3dconv1d if name == "s3dconv1d" else _build_streaming
    return builder(num_classes, config, batch_size)


def _build_s3dconv1d(num_classes: int, config: Config, batch_size: int | None) -> Any:
    k = keras()
    batch_reshape = batch_reshape_class()
    t, s = config.num_frames, input_size(config)
    inputs = k.Input((t, s, s, 1), batch_size=batch_size, name="frames")
    x = batch_reshape((s, s, 1), name="fold_time")(inputs)
    for i, filters in enumerate(S3D_CONV_FILTERS, start=1):
        x = k.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = k.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    features = int(x.shape[1]) * int(x.shape[2]) * int(x.shape[3])
    x = batch_reshape((1, t, features), name="unfold_time")(x)  # = per-frame Flatten + stack
    x = _temporal_head(k, x, S3D_TEMPORAL_FILTERS, num_classes, prefix="temporal")
    return k.Model(inputs, x, name="s3dconv1d")


def _temporal_head(k: Any, x: Any, filters: int, num_classes: int, prefix: str) -> Any:
    """Conv1D(filters, 3, relu) over time (as a (1, 3) Conv2D) -> GAP -> Dense softmax."""
    x = k.layers.Conv2D(filters, (1, TEMPORAL_KERNEL), activation="relu", name=f"{prefix}_conv")(x)
    x = k.layers.GlobalAveragePooling2D(name=f"{prefix}_pool")(x)
    return k.layers.Dense(num_classes, activation="softmax", name=f"{prefix}_classes")(x)


def _activation(k: Any, config: Config, name: str) -> list[Any]:
    """ReLU (or ReLU6: a bounded range, a finer int8 step) and, with ``activation_noise``, Gaussian
    noise in training only: decisions that survive it survive int8 rounding too."""
    layers = [k.layers.ReLU(max_value=6.0 if config.activation == "relu6" else None, name=f"{name}_relu")]
    if config.activation_noise:
        layers.append(k.layers.GaussianNoise(config.activation_noise, name=f"{name}_noise"))
    return layers


def _conv_block(
    k: Any, config: Config, filters: int, kernel: Any, strides: int, padding: str, name: str
) -> list[Any]:
    """Conv (no bias) -> batch norm (folded into the conv at export) -> activation."""
    return [
        k.layers.Conv2D(
            filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
        ),
        # few steps per epoch on small sets: a faster moving average than Keras' 0.99, or the
        # inference-mode statistics lag far behind training (measured: constant predictions)
        k.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn"),
        *_activation(k, config, name),
    ]


def _frame_layers(k: Any, config: Config) -> list[Any]:
    """Per-frame CNN: stride-2 3x3 conv blocks, global average pooling, and an optional dense
    projection to ``feature_dim`` values."""
    layers: list[Any] = []
    for i, filters in enumerate(config.frame_filters, start=1):
        layers += _conv_block(k, config, filters, 3, 2, "same", f"frame_{i}")
    layers.append(k.layers.GlobalAveragePooling2D(name="frame_pool"))
    if config.feature_dim:
        layers.append(k.layers.Dense(config.feature_dim, activation="relu", name="frame_features"))
    return layers


def feature_size(config: Config) -> int:
    """Length of the per-frame feature vector (what the ring buffer holds per frame)."""
    return config.feature_dim or config.frame_filters[-1]


def _build_streaming(num_classes: int, config: Config, batch_size: int | None) -> Any:
    k = keras()
    batch_reshape = batch_reshape_class()
    t, s, f = config.num_frames, input_size(config), feature_size(config)
    inputs = k.Input((t, s, s, 1), batch_size=batch_size, name="frames")
    x = batch_reshape((s, s, 1), name="fold_time")(inputs)
    for layer in _frame_layers(k, config):
        x = layer(x)
    x = batch_reshape((1, t, f), name="head_stack")(x)
    # valid padding: every output sees 3 real frames (no zero padding at the ends of the window)
    for layer in _conv_block(k, config, config.head_filters, (1, TEMPORAL_KERNEL), 1, "valid", "head"):
        x = layer(x)
    x = k.layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = k.layers.Dropout(config.dropout, name="head_dropout")(x)
    x = k.layers.Dense(num_classes, activation="softmax", name="head_classes")(x)
    return k.Model(inputs, x, name="streaming")


def split_streaming(model: Any) -> tuple[Any, Any]:
    """Split a (trained) streaming model into its per-frame and head models, sharing weights.

    Args:
        model: a model from ``build_model("streaming", ...)`` (any batch size).

    Returns:
        ``(frame_model, head_model)``: ``(1, H, W, 1) -> (1, F)`` run once per incoming frame, and
        ``(1, T, F) -> (1, C)`` over the last ``T`` feature vectors (oldest first).
    """
    k = keras()
    frame_layers = [layer for layer in model.layers if layer.name.startswith("frame_")]
    head_layers = [layer for layer in model.layers if layer.name.startswith("head_")]
    if not frame_layers or not head_layers or model.name != "streaming":
        raise TinysignError(
            f"model {model.name!r} is not a streaming model (no frame_/head_ layers); "
            "train with --set model=streaming"
        )
    _, t, h, w, c = model.input_shape
    frame_in = k.Input((h, w, c), batch_size=1, name="frame")
    x = frame_in
    for layer in frame_layers:
        x = layer(x)
    frame_model = k.Model(frame_in, x, name="streaming_frame")

    feature_dim = int(frame_model.output_shape[-1])
    head_in = k.Input((t, feature_dim), batch_size=1, name="features")
    x = k.layers.Reshape((1, t, feature_dim), name="stack")(head_in)
    for layer in head_layers[1:]:  # head_layers[0] is the BatchReshape that stacked the frames
        x = layer(x)
    head_model = k.Model(head_in, x, name="streaming_head")
    return frame_model, head_model


def frame_features(frame_model: Any, inputs: np.ndarray) -> np.ndarray:
    """Float per-frame features of front-end ``inputs`` ``(k, T, h, w, 1)`` -> ``(k, T, F)``."""
    k, t = inputs.shape[:2]
    flat = inputs.reshape(k * t, *inputs.shape[2:])
    feats = np.concatenate(
        [frame_model(flat[i : i + 256], training=False).numpy() for i in range(0, len(flat), 256)]
    )
    return feats.reshape(k, t, -1)


def with_fixed_batch(model: Any, batch_size: int | None = 1) -> Any:
    """A clone of ``model`` whose input has a fixed batch size, with the same weights.

    Args:
        model: a functional model built by :func:`build_model` (or loaded from ``model.keras``).
        batch_size: the batch to fix (1 for TFLite/TFLM export), or ``None`` for a free batch.
    """
    k = keras()
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = list(layer["config"]["batch_input_shape"])
            layer["config"]["batch_input_shape"] = [batch_size, *shape[1:]]
    clone = k.Model.from_config(config, custom_objects=custom_objects())
    clone.set_weights(model.get_weights())
    return clone


def load_model(path: str | Path) -> Any:
    """Load a ``.keras`` model saved by the train stage (uncompiled)."""
    path = Path(path)
    if not path.exists():
        raise TinysignError(f"{path} not found: run `tinysign train` first")
    return keras().models.load_model(path, custom_objects=custom_objects(), compile=False)


def count_macs(model: Any) -> int:
    """Multiply-accumulates of one forward pass for ONE clip (Conv2D, DepthwiseConv2D, Conv1D, Dense).

    Pooling, activations and reshapes are not counted. Time-folded layers are counted once per frame
    (the model is cloned with batch 1, so their static batch is ``T``).
    """
    k = keras()
    fixed = with_fixed_batch(model, 1)
    macs = 0
    for layer in fixed.layers:
        if isinstance(layer, k.layers.Conv2D | k.layers.Conv1D):  # includes DepthwiseConv2D
            positions = math.prod(int(d) for d in layer.output_shape)
            window = math.prod(int(d) for d in layer.kernel_size)
            if isinstance(layer, k.layers.DepthwiseConv2D):
                per_output = 1
            else:
                per_output = int(layer.input_shape[-1]) // layer.groups
            macs += positions * window * per_output
        elif isinstance(layer, k.layers.Dense):
            rows = math.prod(int(d) for d in layer.output_shape[:-1])
            macs += rows * int(layer.input_shape[-1]) * int(layer.units)
    return macs


def build_timedistributed_reference(num_classes: int, config: Config) -> Any:
    """The seed's S3DConv1D written with ``TimeDistributed`` + ``Conv1D`` — reference only.

    Used by the equivalence test and the benchmark; never exported (TFLM cannot run it). Weights map
    one to one onto :func:`build_model` ``("s3dconv1d")`` via :func:`copy_to_reference`.
    """
    k = keras()
    t, s = config.num_frames, input_size(config)
    td = k.layers.TimeDistributed
    inputs = k.Input((t, s, s, 1), name="frames")
    x = inputs
    for i, filters in enumerate(S3D_CONV_FILTERS, start=1):
        x = td(k.layers.Conv2D(filters, 3, padding="same", activation="relu"), name=f"td_conv{i}")(x)
        x = td(k.layers.MaxPooling2D(2), name=f"td_pool{i}")(x)
    x = td(k.layers.Flatten(), name="td_flatten")(x)
    x = k.layers.Conv1D(S3D_TEMPORAL_FILTERS, TEMPORAL_KERNEL, activation="relu", name="conv1d")(x)
    x = k.layers.GlobalAveragePooling1D(name="gap1d")(x)
    x = k.layers.Dense(num_classes, activation="softmax", name="classes")(x)
    return k.Model(inputs, x, name="s3dconv1d_timedistributed")


def copy_to_reference(folded: Any, reference: Any) -> None:
    """Copy the weights of a folded ``s3dconv1d`` into :func:`build_timedistributed_reference`."""
    weights = folded.get_weights()
    # (1, 3, F, 48) Conv2D kernel -> (3, F, 48) Conv1D kernel; everything else has the same shape.
    reference.set_weights([w.reshape(r.shape) for w, r in zip(weights, reference.get_weights(), strict=True)])
