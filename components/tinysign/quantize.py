"""INT8 (PTQ or QAT) and float32 TFLite export of a trained model, batch fixed to 1.

PTQ follows tflite-micro's ``ptq.py``: ``optimizations=[DEFAULT]``, a representative dataset drawn
from the **training** records only, ``TFLITE_BUILTINS_INT8`` and int8 input/output. QAT fine-tunes
a ``tfmot.quantization.keras.quantize_model`` copy of the float model for ``qat_epochs`` (train split;
val only for monitoring) and feeds the same converter.

The image input range is pinned to [0, 1] (one range-anchor calibration sample for PTQ, the input
quantizer's range for QAT), so every INT8 model takes ``int8 = uint8 - 128`` (scale 1/255, zero
point -128) whatever the calibration clips' brightest pixel was. The streaming model is exported as
two models (``frame`` run once per incoming frame, ``head`` over the ring buffer of the last ``T``
features); the head's int8 input range is pinned the same way to the frame model's int8 output
range, so frame outputs go into the ring buffer unchanged.

Files written (``N`` = number of classes): ``s3d_conv1d_{int8,float32}_N.tflite`` or
``streaming_{frame,head}_{int8,float32}_N.tflite``, ``labels.txt`` and ``metrics.json``
(which files, sizes, method, calibration split and count); :func:`load_quantized` reads them back.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysign import records
from tinysign.config import MODEL_NAMES, Config
from tinysign.errors import TinysignError
from tinysign.keras_compat import keras
from tinysign.model import batch_reshape_class, custom_objects, load_model, split_streaming, with_fixed_batch

PRECISIONS = ("int8", "float32")
PARTS = {"s3dconv1d": ("model",), "streaming": ("frame", "head")}
LABELS_FILE = "labels.txt"
METRICS_FILE = "metrics.json"
QAT_LR_FACTOR = 0.1  # QAT fine-tunes at learning_rate * QAT_LR_FACTOR
CALIBRATION_SPLIT = "train"


def tflite_name(kind: str, part: str, precision: str, num_classes: int) -> str:
    """The seed's file names: ``s3d_conv1d_int8_<N>.tflite``, ``streaming_frame_int8_<N>.tflite``."""
    stem = "s3d_conv1d" if kind == "s3dconv1d" else f"streaming_{part}"
    return f"{stem}_{precision}_{num_classes}.tflite"


@dataclass(frozen=True)
class QuantizedModel:
    """What :func:`run_quantize` wrote, read back by evaluate, mcu and predict."""

    kind: str
    labels: list[str]
    num_frames: int
    img_size: int
    method: str
    paths: dict[str, dict[str, Path]]  # part -> precision -> .tflite path

    @property
    def parts(self) -> tuple[str, ...]:
        return PARTS[self.kind]

    def path(self, part: str, precision: str) -> Path:
        return self.paths[part][precision]

    def read(self, part: str, precision: str) -> bytes:
        return self.path(part, precision).read_bytes()


def read_labels(path: str | Path) -> list[str]:
    """One class name per line (index = class id)."""
    path = Path(path)
    if not path.exists():
        raise TinysignError(
            f"{path} not found: it is written beside the model by `tinysign train` and `tinysign quantize`"
        )
    labels = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(labels) < 2:
        raise TinysignError(f"{path}: need at least 2 labels, found {len(labels)}")
    return labels


def load_quantized(quant_dir: str | Path) -> QuantizedModel:
    """Read ``metrics.json`` + ``labels.txt`` of a quantize output folder."""
    quant_dir = Path(quant_dir)
    path = quant_dir / METRICS_FILE
    try:
        meta = json.loads(path.read_text())
        kind, method = meta["model"], meta["method"]
        num_frames, img_size = int(meta["num_frames"]), int(meta["img_size"])
        paths = {part: {p: quant_dir / meta["files"][part][p] for p in PRECISIONS} for part in PARTS[kind]}
    except FileNotFoundError:
        raise TinysignError(
            f"{path} not found: run `tinysign quantize` first (or point --quant at its output)"
        ) from None
    except (KeyError, TypeError, ValueError):  # ValueError includes json.JSONDecodeError
        raise TinysignError(f"{path} is not a quantize report: re-run `tinysign quantize`") from None
    for by_precision in paths.values():
        for file in by_precision.values():
            if not file.exists():
                raise TinysignError(f"{file} is missing: re-run `tinysign quantize`")
    return QuantizedModel(
        kind=kind,
        labels=read_labels(quant_dir / LABELS_FILE),
        num_frames=num_frames,
        img_size=img_size,
        method=method,
        paths=paths,
    )


# --- calibration data (training split only) -------------------------------------------------------


def calibration_clips(records_dir: str | Path, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``count`` clips drawn (seeded) from the TRAINING split: ``(uint8 (k, T, H, W), clip_ids)``.

    Only ``train-*`` shards are opened; the test split can never leak into calibration.
    """
    if count < 1:
        raise TinysignError(f"calibration_samples={count}: need at least 1 calibration clip")
    frames, _, clip_ids = records.load_arrays(records_dir, CALIBRATION_SPLIT)
    order = np.sort(np.random.default_rng(seed).permutation(len(frames))[:count])
    return frames[order], [clip_ids[i] for i in order]


def clip_samples(clips: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for a whole-clip model: ``[(1, T, H, W, 1) float32]`` per clip."""
    for clip in clips:
        yield [records.to_model_input(clip[np.newaxis])]


def frame_samples(clips: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for the per-frame model: every frame ``(1, H, W, 1)`` of every clip."""
    for clip in clips:
        for frame in clip:
            yield [records.to_model_input(frame[np.newaxis])]


def feature_samples(features: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for the head: ``(1, T, F)`` float feature windows."""
    for window in features:
        yield [window[np.newaxis].astype(np.float32)]


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


# --- conversion -----------------------------------------------------------------------------------


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


def _details(model_bytes: bytes, which: str) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    return (interpreter.get_input_details() if which == "input" else interpreter.get_output_details())[0]


def tensor_params(model_bytes: bytes, which: str) -> tuple[float, int] | None:
    """``(scale, zero_point)`` of the model's first ``input`` or ``output`` (``None`` when float)."""
    scale, zero_point = _details(model_bytes, which)["quantization"]
    return (float(scale), int(zero_point)) if scale else None


def tflite_shape(model_bytes: bytes, which: str) -> tuple[int, ...]:
    """Shape of the model's first ``input`` or ``output``."""
    return tuple(int(d) for d in _details(model_bytes, which)["shape"])


def int8_range(params: tuple[float, int]) -> tuple[float, float]:
    """The float range an int8 tensor with ``(scale, zero_point)`` represents."""
    scale, zero_point = params
    return ((-128 - zero_point) * scale, (127 - zero_point) * scale)


# --- QAT ------------------------------------------------------------------------------------------


@functools.cache
def _noop_quantize_config() -> type:
    import tensorflow_model_optimization as tfmot

    class NoOpQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
        """Leave a layer unquantized (our ``BatchReshape``: a pure reshape)."""

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
        model: float ``tf_keras`` functional model (may contain ``BatchReshape``).
        input_range: start the input quantizer at this range (it only widens during training).
    """
    import tensorflow_model_optimization as tfmot

    k = keras()
    qk = tfmot.quantization.keras
    noop = _noop_quantize_config()
    reshape_cls = custom_objects()["BatchReshape"]

    def annotate(layer: Any) -> Any:
        if isinstance(layer, reshape_cls):
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


def _datasets(records_dir: str | Path, config: Config) -> tuple[Any, Any]:
    train = records.make_dataset(records_dir, "train", config.batch_size, shuffle=True, seed=config.seed)
    try:
        val = records.make_dataset(records_dir, "val", config.batch_size)
    except TinysignError:
        val = None  # no val shards: fine-tune without monitoring
    return train, val


def fine_tune(model: Any, records_dir: str | Path, config: Config) -> dict[str, list[float]]:
    """QAT fine-tuning for ``config.qat_epochs`` on train (val for monitoring); returns the history."""
    k = keras()
    k.utils.set_random_seed(config.seed)
    train, val = _datasets(records_dir, config)
    model.compile(
        optimizer=k.optimizers.Adam(config.learning_rate * QAT_LR_FACTOR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(train, validation_data=val, epochs=config.qat_epochs, verbose=2)
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def streaming_qat(
    frame: Any, head: Any, clips: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Any, Any, dict[str, list[float]]]:
    """QAT of the two streaming halves, trained end to end as ``head(stack(frame(x_t)))``.

    ``clips`` (uint8, train split) initialise the quantization ranges (see :func:`init_ranges`).
    """
    k = keras()
    reshape = batch_reshape_class()
    frame_any, head_any = with_fixed_batch(frame, None), with_fixed_batch(head, None)
    q_frame = qat_model(frame_any, input_range=(0.0, 1.0))
    frames = records.to_model_input(clips.reshape(-1, *clips.shape[2:]))
    init_ranges(q_frame, frame_any, frames)
    features = _features(frame, clips)
    q_head = qat_model(head_any, input_range=(min(0.0, float(features.min())), float(features.max())))
    init_ranges(q_head, head_any, features)
    t, f = int(head.input_shape[1]), int(head.input_shape[2])
    h, w, c = (int(d) for d in frame.input_shape[1:])
    inputs = k.Input((t, h, w, c), name="frames")
    x = reshape((h, w, c), name="fold_time")(inputs)
    x = reshape((t, f), name="stack")(q_frame(x))
    joint = k.Model(inputs, q_head(x), name="streaming_qat")
    history = fine_tune(joint, records_dir, config)
    set_input_range(q_frame, (0.0, 1.0))
    return q_frame, q_head, history


# --- the stage ------------------------------------------------------------------------------------


def check_records(records_dir: str | Path, labels: list[str], num_frames: int, img_size: int) -> None:
    """The records must have the model's labels and clip shape (else one clear error)."""
    schema = records.read_schema(records_dir)
    if list(schema["labels"]) != labels:
        raise TinysignError(
            f"{records_dir}: its labels ({len(schema['labels'])}) differ from the model's "
            f"labels.txt ({len(labels)}); use the records the model was trained on"
        )
    found = (int(schema["num_frames"]), int(schema["img_size"]))
    if found != (num_frames, img_size):
        raise TinysignError(
            f"{records_dir}: clips are {found[0]} frames of {found[1]}x{found[1]} but the "
            f"model takes {num_frames} of {img_size}x{img_size}; re-extract or retrain with "
            "matching num_frames/img_size"
        )


def run_quantize(
    model_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> dict[str, Any]:
    """Export INT8 (``config.quantization`` = ptq | qat) and float32 ``.tflite`` files.

    Args:
        model_dir: train output: ``model.keras`` + ``labels.txt``.
        records_dir: extraction output; calibration (PTQ) and fine-tuning (QAT) use ``train``
            (QAT monitors ``val``); ``test`` is never read.
        out_dir: folder for the ``.tflite`` files, ``labels.txt`` and ``metrics.json``.
        config: uses ``quantization``, ``calibration_samples``, ``qat_epochs``, ``seed``,
            ``batch_size``, ``learning_rate``.

    Returns:
        The ``metrics.json`` content.
    """
    start = time.perf_counter()
    model_dir, out = Path(model_dir), Path(out_dir)
    labels = read_labels(model_dir / LABELS_FILE)
    model = load_model(model_dir / "model.keras")
    kind = model.name
    if kind not in MODEL_NAMES:
        raise TinysignError(f"{model_dir}/model.keras: unknown model {kind!r}; expected one of {MODEL_NAMES}")
    input_shape = _batch1_shape(model)
    check_records(records_dir, labels, input_shape[1], input_shape[2])
    if int(model.output_shape[-1]) != len(labels):
        raise TinysignError(
            f"{model_dir}: model has {model.output_shape[-1]} outputs but labels.txt "
            f"lists {len(labels)} classes"
        )
    out.mkdir(parents=True, exist_ok=True)
    clips, calib_ids = calibration_clips(records_dir, config.calibration_samples, config.seed)
    num_classes = len(labels)
    export = _export_whole if kind == "s3dconv1d" else _export_streaming
    blobs, history = export(model, clips, records_dir, config)

    files: dict[str, dict[str, str]] = {}
    sizes: dict[str, int] = {}
    for part, by_precision in blobs.items():
        files[part] = {}
        for precision, blob in by_precision.items():
            name = tflite_name(kind, part, precision, num_classes)
            (out / name).write_bytes(blob)
            files[part][precision] = name
            sizes[name] = len(blob)
    (out / LABELS_FILE).write_text("\n".join(labels) + "\n")
    metrics: dict[str, Any] = {
        "model": kind,
        "method": config.quantization,
        "num_classes": num_classes,
        "num_frames": input_shape[1],
        "img_size": input_shape[2],
        "batch_size": 1,
        "files": files,
        "sizes_bytes": sizes,
        "int8_io": {
            part: {"input": tensor_params(b["int8"], "input"), "output": tensor_params(b["int8"], "output")}
            for part, b in blobs.items()
        },
        "calibration": {"split": CALIBRATION_SPLIT, "count": len(calib_ids), "clip_ids": calib_ids},
        "seconds": round(time.perf_counter() - start, 2),
    }
    if kind == "streaming":
        metrics["feature_dim"] = tflite_shape(blobs["head"]["int8"], "input")[-1]
        metrics["ring_buffer_identity"] = (
            metrics["int8_io"]["frame"]["output"] == metrics["int8_io"]["head"]["input"]
        )
    if history is not None:
        metrics["qat"] = {
            "epochs": config.qat_epochs,
            "learning_rate": config.learning_rate * QAT_LR_FACTOR,
            "history": history,
        }
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


Blobs = dict[str, dict[str, bytes]]  # part -> precision -> .tflite bytes
History = dict[str, list[float]] | None


def _batch1_shape(model: Any) -> tuple[int, ...]:
    """The model's input shape with the batch fixed to 1 (what :func:`convert` exports)."""
    return (1, *(int(d) for d in model.input_shape[1:]))


def _export_whole(
    model: Any, clips: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Blobs, History]:
    """s3dconv1d: one INT8 (PTQ, or QAT fine-tuned) and one float32 model of the whole clip."""
    input_shape = _batch1_shape(model)
    int8_model, history = model, None
    if config.quantization == "qat":
        int8_model = qat_model(model, input_range=(0.0, 1.0))
        init_ranges(int8_model, model, records.to_model_input(clips))
        history = fine_tune(int8_model, records_dir, config)
        set_input_range(int8_model, (0.0, 1.0))
    int8 = convert(
        int8_model, input_shape, int8=True, representative=lambda: anchored(clip_samples(clips), 0.0, 1.0)
    )
    return {"model": {"int8": int8, "float32": convert(model, input_shape, int8=False)}}, history


def _export_streaming(
    model: Any, clips: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Blobs, History]:
    """streaming: frame and head models, INT8 (PTQ, or QAT fine-tuned end to end) and float32."""
    frame, head = split_streaming(model)
    frame_shape, head_shape = _batch1_shape(frame), _batch1_shape(head)
    q_frame, q_head, history = frame, head, None
    if config.quantization == "qat":
        q_frame, q_head, history = streaming_qat(frame, head, clips, records_dir, config)
    frame_int8 = convert(
        q_frame, frame_shape, int8=True, representative=lambda: anchored(frame_samples(clips), 0.0, 1.0)
    )
    # The head's int8 input = the frame's int8 output (same scale/zero point): no requantization.
    feature_range = int8_range(tensor_params(frame_int8, "output"))  # type: ignore[arg-type]
    if config.quantization == "qat":
        set_input_range(q_head, feature_range)
    features = _features(frame, clips)
    head_int8 = convert(
        q_head,
        head_shape,
        int8=True,
        representative=lambda: anchored(feature_samples(features), *feature_range),
    )
    return {
        "frame": {"int8": frame_int8, "float32": convert(frame, frame_shape, int8=False)},
        "head": {"int8": head_int8, "float32": convert(head, head_shape, int8=False)},
    }, history


def _features(frame_model: Any, clips: np.ndarray) -> np.ndarray:
    """Float per-frame features of ``clips`` ``(k, T, H, W)`` -> ``(k, T, F)``."""
    k, t = clips.shape[:2]
    flat = records.to_model_input(clips.reshape(k * t, *clips.shape[2:]))
    feats = np.concatenate(
        [frame_model(flat[i : i + 256], training=False).numpy() for i in range(0, len(flat), 256)]
    )
    return feats.reshape(k, t, -1)


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="DIR", help="train output (model.keras + labels.txt)"
    )
    parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (TFRecords)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the .tflite files")
    parser.add_argument("--method", choices=("ptq", "qat"), help="shortcut for --set quantization=...")


def run(args: argparse.Namespace, config: Config) -> int:
    if args.method:
        config = config.replace(quantization=args.method)
    metrics = run_quantize(args.model, args.records, args.out, config)
    for name, size in metrics["sizes_bytes"].items():
        print(f"{name}: {size} bytes")
    print(
        f"method={metrics['method']} calibration={metrics['calibration']['count']} train clips -> {args.out}"
    )
    return 0
