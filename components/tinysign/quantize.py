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
QAT lives in :mod:`tinysign.model.qat`, the streaming head's PTQ bias correction in
:mod:`tinysign.model.bias_correction`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import LABELS_FILE, MODEL_FILE
from tinysign.config import MODEL_NAMES, Config
from tinysign.console import Progress
from tinysign.data import records
from tinysign.data.frontend import frame_contrast, front_end, input_range
from tinysign.errors import TinysignError
from tinysign.model.architectures import frame_features, load_model, split_streaming
from tinysign.model.bias_correction import corrected_head, feature_bias
from tinysign.model.export import anchored, clip_samples, convert, frame_samples, window_samples
from tinysign.model.files import check_records, read_labels, tflite_name, write_labels
from tinysign.model.qat import fine_tune, init_ranges, qat_model, qat_notes, set_input_range, streaming_qat
from tinysign.runtime.litert import LiteModel, int8_range
from tinysign.runtime.streaming import int8_features
from tinysign.summaries import QuantizeSummary, read_summary, stamped, write_summary

CALIBRATION_SPLIT = "train"
Blobs = dict[str, dict[str, bytes]]  # part -> precision -> .tflite bytes


# --- calibration data (training split only) -------------------------------------------------------


def calibration_clips(records_dir: str | Path, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``count`` clips drawn (seeded) from the TRAINING split: ``(uint8 (k, T, H, W), clip_ids)``.

    Only ``train-*`` shards are opened; the test split can never leak into calibration.
    """
    if count < 1:
        raise TinysignError(f"calibration_samples={count}: need at least 1 calibration clip")
    chosen = records.sample_records(records_dir, CALIBRATION_SPLIT, count, seed)
    return np.stack([r.frames for r in chosen]), [r.clip_id for r in chosen]


def model_inputs(clips: np.ndarray, config: Config, contrast: float = 0.0) -> np.ndarray:
    """The front end's float model input of uint8 clips ``(k, T, H, W)``: ``(k, T, h, w, 1)``."""
    return np.stack([front_end(clip, config.front_end, config.binning, contrast) for clip in clips])[
        ..., np.newaxis
    ]


def contrast_reference(clips: np.ndarray, config: Config) -> float:
    """The device front end's contrast reference: the calibration (training) frames' mean contrast, in
    grey levels (0: no contrast gain — ``contrast_gain`` off or a ``raw`` front end)."""
    if not config.contrast_gain or config.front_end != "diff":
        return 0.0
    return round(frame_contrast(clips, config.binning), 3)


# --- the stage ------------------------------------------------------------------------------------

# What quantize shows as it goes (QAT's fine-tuning epochs come within the INT8 step).
STEPS = {
    "s3dconv1d": ("calibration clips", "INT8 model", "float32 model"),
    "streaming": (
        "calibration clips",
        "INT8 frame model",
        "INT8 features of the calibration clips (bias correction)",
        "INT8 head model",
        "float32 frame and head models",
    ),
}


@stamped("quantize")
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
    with Progress("quantize", len(STEPS[kind]), "steps") as shown:
        clips, calib_ids = calibration_clips(records_dir, config.calibration_samples, config.seed)
        contrast = contrast_reference(clips, config)
        inputs = model_inputs(clips, config, contrast)  # as the device computes them
        shown.step(STEPS[kind][0])
        export = _export_whole if kind == "s3dconv1d" else _export_streaming
        blobs, notes = export(model, inputs, records_dir, config, shown.step)
    num_classes = len(labels)

    files = _write_tflite(out, blobs, kind, num_classes)
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
        "contrast": contrast,
        "stream_fps": int(
            records.read_schema(records_dir).get("stream_fps", 0)
        ),  # the rate it was trained at
        "batch_size": 1,
        "files": files,
        "sizes_bytes": {
            name: (out / name).stat().st_size for names in files.values() for name in names.values()
        },
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


def _write_tflite(out: Path, blobs: Blobs, kind: str, num_classes: int) -> dict[str, dict[str, str]]:
    """Write every part's ``.tflite`` files; returns ``{part: {precision: file name}}``."""
    files: dict[str, dict[str, str]] = {}
    for part, by_precision in blobs.items():
        files[part] = {}
        for precision, blob in by_precision.items():
            files[part][precision] = tflite_name(kind, part, precision, num_classes)
            (out / files[part][precision]).write_bytes(blob)
    return files


def _trained_front_end(model_dir: Path, config: Config) -> Config:
    """The config with the front end the model was trained with (its train summary), so quantization
    calibrates and fine-tunes on exactly the inputs the model expects."""
    trained = read_summary(model_dir)
    if "front_end" not in trained:
        return config
    return config.replace(front_end=trained["front_end"], binning=trained["binning"])


def _batch1_shape(model: Any) -> tuple[int, ...]:
    """The model's input shape with the batch fixed to 1 (what :func:`convert` exports)."""
    return (1, *(int(d) for d in model.input_shape[1:]))


def _export_whole(
    model: Any, inputs: np.ndarray, records_dir: str | Path, config: Config, done: Callable[[str], None]
) -> tuple[Blobs, dict[str, Any]]:
    """s3dconv1d: one INT8 (PTQ, or QAT fine-tuned) and one float32 model of the whole clip; ``done`` is
    told each of :data:`STEPS` as it ends."""
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
    done(STEPS["s3dconv1d"][1])
    float32 = convert(model, input_shape, int8=False)
    done(STEPS["s3dconv1d"][2])
    return {"model": {"int8": int8, "float32": float32}}, qat_notes(history, config)


def _export_streaming(
    model: Any, inputs: np.ndarray, records_dir: str | Path, config: Config, done: Callable[[str], None]
) -> tuple[Blobs, dict[str, Any]]:
    """streaming: frame and head models, INT8 (PTQ, or QAT fine-tuned end to end) and float32; ``done``
    is told each of :data:`STEPS` as it ends."""
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
    done(STEPS["streaming"][1])
    # The head's int8 input = the frame's int8 output (same scale/zero point): no requantization.
    feature_range = int8_range(LiteModel(frame_int8).output_qparams)  # type: ignore[arg-type]
    if config.quantization == "qat":
        set_input_range(q_head, feature_range)
    float_features = frame_features(frame, inputs)
    features = int8_features(frame_int8, inputs)  # what the head really gets on the device
    bias = feature_bias(features, float_features)
    done(STEPS["streaming"][2])
    corrected = config.bias_correction and config.quantization == "ptq"  # QAT trains on int8 features
    if corrected:
        q_head = corrected_head(q_head, bias)
    head_int8 = convert(
        q_head,
        head_shape,
        int8=True,
        representative=lambda: anchored(window_samples(features), *feature_range),
    )
    done(STEPS["streaming"][3])
    blobs = {
        "frame": {"int8": frame_int8, "float32": convert(frame, frame_shape, int8=False)},
        "head": {"int8": head_int8, "float32": convert(head, head_shape, int8=False)},
    }
    done(STEPS["streaming"][4])
    notes: dict[str, Any] = {
        "bias_correction": {
            "applied": corrected,
            "max_abs_feature_bias": float(np.abs(bias).max()),
            "mean_abs_feature_error": float(np.abs(features - float_features).mean()),
        }
    }
    return blobs, {**notes, **qat_notes(history, config)}


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
