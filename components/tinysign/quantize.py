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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import LABELS_FILE, MODEL_FILE
from tinysign.config import MODEL_NAMES, Config
from tinysign.data import inputs, records
from tinysign.data.frontend import front_end, input_range
from tinysign.errors import TinysignError
from tinysign.model.architectures import batch_reshape_class, load_model, split_streaming, with_fixed_batch
from tinysign.model.backend import keras
from tinysign.model.export import anchored, convert, window_samples
from tinysign.model.files import check_records, read_labels, tflite_name, write_labels
from tinysign.model.qat import init_ranges, qat_model, set_input_range
from tinysign.reporting.summaries import QuantizeSummary, read_summary, write_summary
from tinysign.runtime.litert import LiteModel, dequantize, int8_range, runner_input

QAT_LR_FACTOR = 0.1  # QAT fine-tunes at learning_rate * QAT_LR_FACTOR
CALIBRATION_SPLIT = "train"


# --- calibration data (training split only) -------------------------------------------------------


def calibration_clips(records_dir: str | Path, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``count`` clips drawn (seeded) from the TRAINING split: ``(uint8 (k, T, H, W), clip_ids)``.

    Only ``train-*`` shards are opened; the test split can never leak into calibration.
    """
    if count < 1:
        raise TinysignError(f"calibration_samples={count}: need at least 1 calibration clip")
    chosen = records.sample_records(records_dir, CALIBRATION_SPLIT, count, seed)
    return np.stack([r.frames for r in chosen]), [r.clip_id for r in chosen]


def model_inputs(clips: np.ndarray, config: Config) -> np.ndarray:
    """The front end's float model input of uint8 clips ``(k, T, H, W)``: ``(k, T, h, w, 1)``."""
    return np.stack([front_end(clip, config.front_end, config.binning) for clip in clips])[..., np.newaxis]


def clip_samples(inputs: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for a whole-clip model: ``[(1, T, h, w, 1) float32]`` per clip."""
    for clip in inputs:
        yield [clip[np.newaxis]]


def frame_samples(inputs: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Representative samples for the per-frame model: every frame ``(1, H, W, 1)`` of every clip."""
    for clip in inputs:
        for frame in clip:
            yield [frame[np.newaxis]]


# --- QAT fine-tuning --------------------------------------------------------------------------------


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
    frame: Any, head: Any, inputs: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Any, Any, dict[str, list[float]]]:
    """QAT of the two streaming halves, trained end to end as ``head(stack(frame(x_t)))``.

    ``inputs`` (front-end output of training clips) initialise the quantization ranges
    (see :func:`init_ranges`).
    """
    k = keras()
    reshape = batch_reshape_class()
    frame_any, head_any = with_fixed_batch(frame, None), with_fixed_batch(head, None)
    q_frame = qat_model(frame_any, input_range=input_range(config.front_end))
    frames = inputs.reshape(-1, *inputs.shape[2:])
    init_ranges(q_frame, frame_any, frames)
    features = _features(frame, inputs)
    q_head = qat_model(head_any, input_range=(min(0.0, float(features.min())), float(features.max())))
    init_ranges(q_head, head_any, features)
    t, f = int(head.input_shape[1]), int(head.input_shape[2])
    h, w, c = (int(d) for d in frame.input_shape[1:])
    inputs = k.Input((t, h, w, c), name="frames")
    x = reshape((h, w, c), name="fold_time")(inputs)
    x = reshape((t, f), name="stack")(q_frame(x))
    joint = k.Model(inputs, q_head(x), name="streaming_qat")
    history = fine_tune(joint, records_dir, config)
    set_input_range(q_frame, input_range(config.front_end))
    return q_frame, q_head, history


# --- the stage ------------------------------------------------------------------------------------


def run_quantize(
    model_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> QuantizeSummary:
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
    model = load_model(model_dir / MODEL_FILE)
    kind = model.name
    if kind not in MODEL_NAMES:
        raise TinysignError(f"{model_dir}/model.keras: unknown model {kind!r}; expected one of {MODEL_NAMES}")
    input_shape = _batch1_shape(model)
    config = _trained_front_end(model_dir, config)
    check_records(records_dir, labels, input_shape[1], input_shape[2] * config.binning)
    if int(model.output_shape[-1]) != len(labels):
        raise TinysignError(
            f"{model_dir}: model has {model.output_shape[-1]} outputs but labels.txt "
            f"lists {len(labels)} classes"
        )
    out.mkdir(parents=True, exist_ok=True)
    clips, calib_ids = calibration_clips(records_dir, config.calibration_samples, config.seed)
    inputs = model_inputs(clips, config)
    num_classes = len(labels)
    export = _export_whole if kind == "s3dconv1d" else _export_streaming
    blobs, notes = export(model, inputs, records_dir, config)

    files: dict[str, dict[str, str]] = {}
    sizes: dict[str, int] = {}
    for part, by_precision in blobs.items():
        files[part] = {}
        for precision, blob in by_precision.items():
            name = tflite_name(kind, part, precision, num_classes)
            (out / name).write_bytes(blob)
            files[part][precision] = name
            sizes[name] = len(blob)
    write_labels(out / LABELS_FILE, labels)
    int8 = {part: LiteModel(b["int8"]) for part, b in blobs.items()}
    metrics: QuantizeSummary = {
        "model": kind,
        "method": config.quantization,
        "num_classes": num_classes,
        "num_frames": input_shape[1],
        "img_size": input_shape[2] * config.binning,  # the records' frames; the model sees img_size / binning
        "front_end": config.front_end,
        "binning": config.binning,
        "batch_size": 1,
        "files": files,
        "sizes_bytes": sizes,
        "int8_io": {part: {"input": m.input_qparams, "output": m.output_qparams} for part, m in int8.items()},
        "calibration": {"split": CALIBRATION_SPLIT, "count": len(calib_ids), "clip_ids": calib_ids},
        "seconds": round(time.perf_counter() - start, 2),
    }
    if kind == "streaming":
        metrics["feature_dim"] = int8["head"].input_shape[-1]
        metrics["ring_buffer_identity"] = (
            metrics["int8_io"]["frame"]["output"] == metrics["int8_io"]["head"]["input"]
        )
    metrics.update(notes)  # type: ignore[typeddict-item]  # qat, bias_correction
    write_summary(out, metrics)
    return metrics


def _trained_front_end(model_dir: Path, config: Config) -> Config:
    """The config with the front end the model was trained with (its train summary), so quantization
    calibrates and fine-tunes on exactly the inputs the model expects."""
    trained = read_summary(model_dir)
    if "front_end" not in trained:
        return config
    return config.replace(front_end=trained["front_end"], binning=trained["binning"])


Blobs = dict[str, dict[str, bytes]]  # part -> precision -> .tflite bytes


def _batch1_shape(model: Any) -> tuple[int, ...]:
    """The model's input shape with the batch fixed to 1 (what :func:`convert` exports)."""
    return (1, *(int(d) for d in model.input_shape[1:]))


def _export_whole(
    model: Any, inputs: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Blobs, dict[str, Any]]:
    """s3dconv1d: one INT8 (PTQ, or QAT fine-tuned) and one float32 model of the whole clip."""
    input_shape = _batch1_shape(model)
    int8_model, history = model, None
    if config.quantization == "qat":
        int8_model = qat_model(model, input_range=input_range(config.front_end))
        init_ranges(int8_model, model, inputs)
        history = fine_tune(int8_model, records_dir, config)
        set_input_range(int8_model, input_range(config.front_end))
    int8 = convert(
        int8_model,
        input_shape,
        int8=True,
        representative=lambda: anchored(clip_samples(inputs), *input_range(config.front_end)),
    )
    return {"model": {"int8": int8, "float32": convert(model, input_shape, int8=False)}}, _qat_notes(
        history, config
    )


def _export_streaming(
    model: Any, inputs: np.ndarray, records_dir: str | Path, config: Config
) -> tuple[Blobs, dict[str, Any]]:
    """streaming: frame and head models, INT8 (PTQ, or QAT fine-tuned end to end) and float32."""
    frame, head = split_streaming(model)
    frame_shape, head_shape = _batch1_shape(frame), _batch1_shape(head)
    q_frame, q_head, history = frame, head, None
    if config.quantization == "qat":
        q_frame, q_head, history = streaming_qat(frame, head, inputs, records_dir, config)
    frame_int8 = convert(
        q_frame,
        frame_shape,
        int8=True,
        representative=lambda: anchored(frame_samples(inputs), *input_range(config.front_end)),
    )
    # The head's int8 input = the frame's int8 output (same scale/zero point): no requantization.
    feature_range = int8_range(LiteModel(frame_int8).output_qparams)  # type: ignore[arg-type]
    if config.quantization == "qat":
        set_input_range(q_head, feature_range)
    float_features = _features(frame, inputs)
    features = int8_features(frame_int8, inputs)  # what the head really gets on the device
    bias = (features - float_features).mean(axis=(0, 1))
    corrected = config.bias_correction and config.quantization == "ptq"  # QAT trains on int8 features
    if corrected:
        q_head = corrected_head(q_head, bias)
    head_int8 = convert(
        q_head,
        head_shape,
        int8=True,
        representative=lambda: anchored(window_samples(features), *feature_range),
    )
    blobs = {
        "frame": {"int8": frame_int8, "float32": convert(frame, frame_shape, int8=False)},
        "head": {"int8": head_int8, "float32": convert(head, head_shape, int8=False)},
    }
    notes: dict[str, Any] = {
        "bias_correction": {
            "applied": corrected,
            "max_abs_feature_bias": float(np.abs(bias).max()),
            "mean_abs_feature_error": float(np.abs(features - float_features).mean()),
        }
    }
    return blobs, {**notes, **_qat_notes(history, config)}


def _qat_notes(history: dict[str, list[float]] | None, config: Config) -> dict[str, Any]:
    if history is None:
        return {}
    return {
        "qat": {
            "epochs": config.qat_epochs,
            "learning_rate": config.learning_rate * QAT_LR_FACTOR,
            "history": history,
        }
    }


def int8_features(frame_int8: bytes, inputs: np.ndarray) -> np.ndarray:
    """Dequantized outputs of the INT8 frame model on front-end ``inputs`` ``(k, T, h, w, 1)``."""
    model = LiteModel(frame_int8)
    flat = inputs.reshape(-1, 1, *inputs.shape[2:])
    out = [dequantize(model.invoke(runner_input(model, x)), model.output_qparams) for x in flat]
    return np.concatenate(out).reshape(*inputs.shape[:2], -1).astype(np.float32)


def corrected_head(head: Any, bias: np.ndarray) -> Any:
    """PTQ bias correction: a copy of the head whose first temporal conv expects features shifted by
    ``bias`` (the INT8 frame model's mean error per feature channel on training clips).

    The INT8 frame model's error is mostly systematic (the same per-channel mean on train and test),
    so ``conv(x + bias) = conv(x) + conv(bias)`` is removed exactly by adding ``conv(bias)`` (a constant
    per output channel with valid padding) to the following batch norm's moving mean. The float
    model is unchanged."""
    corrected = with_fixed_batch(head, 1)
    conv, norm = corrected.get_layer("head_conv"), corrected.get_layer("head_bn")
    kernel = conv.get_weights()[0]  # (1, taps, F, filters)
    shift = np.einsum("ykco,c->o", kernel, bias.astype(np.float64))
    gamma, beta, mean, variance = norm.get_weights()
    norm.set_weights([gamma, beta, (mean + shift).astype(mean.dtype), variance])
    return corrected


def _features(frame_model: Any, inputs: np.ndarray) -> np.ndarray:
    """Float per-frame features of front-end ``inputs`` ``(k, T, h, w, 1)`` -> ``(k, T, F)``."""
    k, t = inputs.shape[:2]
    flat = inputs.reshape(k * t, *inputs.shape[2:])
    feats = np.concatenate(
        [frame_model(flat[i : i + 256], training=False).numpy() for i in range(0, len(flat), 256)]
    )
    return feats.reshape(k, t, -1)


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="DIR", help="train output (model.keras + labels.txt)"
    )
    add_folders(parser, "output folder for the .tflite files", records=True)
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
