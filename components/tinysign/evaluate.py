"""INT8 vs float32 TFLite evaluation on the test split (LiteRT), with the seed's softmax sanity.

Both ``.tflite`` precisions from ``tinysign quantize`` run in ``ai_edge_litert`` on every test clip:
accuracy, top-5, per-class report (CSV), confusion matrix (``.npy`` + PNG, via
:func:`tinysign.metrics.classification_outputs`), the float-vs-INT8 accuracy delta and prediction
agreement, softmax sanity of the dequantized outputs, latency per clip, and two trivial baselines
(majority class; raw-pixel 1-nearest-neighbour on the train split) a useful model must beat.

The streaming model is evaluated on its deployment path: the frame model runs once per incoming
frame, its output goes into a ring buffer of the last ``T`` feature vectors, and the head classifies
the buffer (:class:`StreamingClassifier`). :class:`LiteModel` and :class:`StreamingClassifier` are
shared with ``mcu`` (tflite-micro) and ``predict``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from tinysign import records
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.quantize import PRECISIONS, QuantizedModel, check_records, load_quantized

QParams = tuple[float, int] | None  # (scale, zero_point) of an int8 tensor; None for float


class Runner(Protocol):
    """One ``.tflite`` model in some interpreter (LiteRT here, tflite-micro in ``mcu``)."""

    input_shape: tuple[int, ...]
    input_dtype: Any
    input_qparams: QParams
    output_qparams: QParams

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """Raw input (model dtype, ``input_shape``) -> raw first output (model dtype)."""
        ...


def qparams(details: dict[str, Any]) -> QParams:
    """``(scale, zero_point)`` from LiteRT/TFLM tensor details (``None`` when not quantized)."""
    q = details["quantization_parameters"]
    if details["dtype"] not in (np.int8, np.uint8, np.int16) or len(q["scales"]) == 0:
        return None
    return float(q["scales"][0]), int(q["zero_points"][0])


def quantize(x: np.ndarray, params: QParams, dtype: Any) -> np.ndarray:
    """Float -> model input (``round(x / scale) + zero_point``, clipped), or a float cast."""
    if params is None:
        return np.asarray(x, dtype=dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / params[0]) + params[1], info.min, info.max).astype(dtype)


def dequantize(raw: np.ndarray, params: QParams) -> np.ndarray:
    """Model output -> float32 (``(q - zero_point) * scale``)."""
    if params is None:
        return np.asarray(raw, dtype=np.float32)
    return ((raw.astype(np.float32) - params[1]) * params[0]).astype(np.float32)


class LiteModel:
    """A ``.tflite`` model in the LiteRT interpreter.

    Args:
        model: ``.tflite`` bytes or path.
        reference: use the reference kernels (``BUILTIN_REF``), as tflite-micro does, so integer
            results can be compared bit for bit.
        num_threads: interpreter threads (1 = single-core, MCU-like latency ratios).
    """

    def __init__(self, model: bytes | str | Path, *, reference: bool = False, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        kwargs: dict[str, Any] = {"num_threads": num_threads}
        if reference:
            kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_REF
        self._interpreter = Interpreter(model_content=content, **kwargs)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        out = self._interpreter.get_output_details()[0]
        self._in, self._out = inp["index"], out["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self.input_dtype = inp["dtype"]
        self.input_qparams = qparams(inp)
        self.output_shape = tuple(int(d) for d in out["shape"])
        self.output_qparams = qparams(out)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._in, x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._out).copy()


def model_input(runner: Runner, frames: np.ndarray) -> np.ndarray:
    """uint8 frames (a clip ``(T, H, W)`` or one frame ``(H, W)``) -> the runner's raw input."""
    x = records.to_model_input(frames).reshape(runner.input_shape)
    return quantize(x, runner.input_qparams, runner.input_dtype)


class RingBuffer:
    """The last ``T`` feature vectors (oldest first) in the head's input dtype: ``T x F`` elements."""

    def __init__(self, num_frames: int, feature_dim: int, dtype: Any) -> None:
        self.data = np.zeros((num_frames, feature_dim), dtype=dtype)
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= len(self.data)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def push(self, feature: np.ndarray) -> None:
        self.data = np.roll(self.data, -1, axis=0)  # on an MCU: a circular index, no copy
        self.data[-1] = feature.reshape(-1)
        self.count += 1

    def reset(self) -> None:
        self.data[:] = 0
        self.count = 0


class StreamingClassifier:
    """Deployment path of the streaming model: frame model per frame -> ring buffer -> head.

    The frame model's raw output goes into the ring buffer unchanged when its quantization equals
    the head's input quantization (``tinysign quantize`` makes it so); otherwise it is requantized.
    """

    def __init__(self, frame: Runner, head: Runner) -> None:
        self.frame, self.head = frame, head
        _, t, f = head.input_shape
        self.buffer = RingBuffer(t, f, head.input_dtype)
        self.requantize = frame.output_qparams != head.input_qparams

    def reset(self) -> None:
        self.buffer.reset()

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """Feed one uint8 frame ``(H, W)``; returns the head's raw output once the buffer is full."""
        feature = self.frame.invoke(model_input(self.frame, frame))
        if self.requantize:
            feature = quantize(
                dequantize(feature, self.frame.output_qparams), self.head.input_qparams, self.head.input_dtype
            )
        self.buffer.push(feature)
        if not self.buffer.full:
            return None
        return self.head.invoke(self.buffer.data[np.newaxis])

    def classify(self, clip: np.ndarray) -> np.ndarray:
        """Raw head output for one clip ``(T, H, W)`` streamed from an empty buffer."""
        self.reset()
        out = None
        for frame in clip:
            out = self.push(frame)
        if out is None:
            raise TinysignError(
                f"a clip of {len(clip)} frames cannot fill the {len(self.buffer.data)}-frame "
                "ring buffer: re-extract the records with the model's num_frames"
            )
        return out


class ClipClassifier:
    """Whole-clip model (``s3dconv1d``) or streaming pair behind one ``classify(clip) -> raw`` call."""

    def __init__(self, runners: Sequence[Runner]) -> None:
        self.streaming = StreamingClassifier(*runners) if len(runners) == 2 else None
        self.runner = runners[0]
        self.output_qparams = runners[-1].output_qparams

    def classify(self, clip: np.ndarray) -> np.ndarray:
        if self.streaming is not None:
            return self.streaming.classify(clip)
        return self.runner.invoke(model_input(self.runner, clip))


def lite_classifier(quant: QuantizedModel, precision: str, *, reference: bool = False) -> ClipClassifier:
    """LiteRT classifier for ``precision`` (int8 | float32) of a quantize output."""
    return ClipClassifier(
        [LiteModel(quant.path(part, precision), reference=reference) for part in quant.parts]
    )


def classify_clips(
    classifier: ClipClassifier, clips: np.ndarray, desc: str = "clips"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Run every clip: ``(raw outputs (N, C), dequantized scores (N, C), mean seconds per clip)``."""
    raws = []
    start = time.perf_counter()
    for clip in tqdm(clips, desc=desc, unit="clip", leave=False):
        raws.append(classifier.classify(clip).reshape(-1))
    seconds = (time.perf_counter() - start) / max(1, len(clips))
    raw = np.stack(raws)
    return raw, dequantize(raw, classifier.output_qparams), seconds


def softmax_sanity(raw: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """The seed's checks: scores sum to ~1, spread of the max probability, all-equal outputs."""
    sums = probs.sum(axis=1)
    top = probs.max(axis=1)
    all_equal = np.all(raw == raw[:, :1], axis=1)
    return {
        "sum_mean": float(sums.mean()),
        "sum_min": float(sums.min()),
        "sum_max": float(sums.max()),
        "max_abs_sum_error": float(np.abs(sums - 1).max()),
        "max_prob_min": float(top.min()),
        "max_prob_max": float(top.max()),
        "max_prob_mean": float(top.mean()),
        "all_equal_fraction": float(all_equal.mean()),
    }


def baselines(records_dir: str | Path, test_frames: np.ndarray, test_labels: np.ndarray) -> dict[str, Any]:
    """Accuracy of majority class and raw-pixel 1-nearest-neighbour (train split -> test)."""
    from sklearn.neighbors import KNeighborsClassifier

    train_frames, train_labels, _ = records.load_arrays(records_dir, "train")
    majority = int(np.bincount(train_labels).argmax())
    knn = KNeighborsClassifier(n_neighbors=1).fit(
        train_frames.reshape(len(train_frames), -1).astype(np.float32), train_labels
    )
    pred = knn.predict(test_frames.reshape(len(test_frames), -1).astype(np.float32))
    return {
        "majority": {"accuracy": float(np.mean(test_labels == majority)), "class": majority},
        "nearest_neighbour": {
            "accuracy": float(np.mean(pred == test_labels)),
            "features": "raw pixels, 1-NN on the train split",
        },
    }


def run_evaluate(
    quant_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> dict[str, Any]:
    """Evaluate the INT8 and float32 ``.tflite`` models of ``quant_dir`` on the test split.

    Args:
        quant_dir: quantize output (``metrics.json``, ``labels.txt``, ``.tflite`` files).
        records_dir: extraction output; only ``test`` (and ``train`` for the baselines) is read.
        out_dir: folder for ``{int8,float32}_classification_report.csv``,
            ``{int8,float32}_confusion_matrix.{npy,png}`` and ``metrics.json``.
        config: unused today (kept for the stage contract).

    Returns:
        The ``metrics.json`` content.
    """
    from tinysign.metrics import classification_outputs

    del config
    quant = load_quantized(quant_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_records(records_dir, quant.labels, quant.num_frames, quant.img_size)
    frames, labels, _ = records.load_arrays(records_dir, "test")
    results: dict[str, Any] = {}
    predictions: dict[str, np.ndarray] = {}
    for precision in PRECISIONS:
        raw, probs, seconds = classify_clips(lite_classifier(quant, precision), frames, desc=precision)
        predictions[precision] = probs.argmax(axis=1)
        summary = classification_outputs(labels, predictions[precision], probs, quant.labels, out, precision)
        summary["softmax_sanity"] = softmax_sanity(raw, probs)
        summary["seconds_per_clip"] = seconds
        results[precision] = summary
    metrics = {
        "model": quant.kind,
        "method": quant.method,
        "num_test_clips": int(len(labels)),
        "num_classes": len(quant.labels),
        "labels": quant.labels,
        "int8_accuracy": results["int8"]["accuracy"],
        "float32_accuracy": results["float32"]["accuracy"],
        "int8_top5_accuracy": results["int8"]["top5_accuracy"],
        "float32_top5_accuracy": results["float32"]["top5_accuracy"],
        "accuracy_delta": results["int8"]["accuracy"] - results["float32"]["accuracy"],
        "prediction_agreement": float(np.mean(predictions["int8"] == predictions["float32"])),
        "int8_vs_float32_latency_ratio": results["int8"]["seconds_per_clip"]
        / max(results["float32"]["seconds_per_clip"], 1e-12),
        "baselines": baselines(records_dir, frames, labels),
        "deployment_path": "frame model per frame -> ring buffer -> head"
        if quant.kind == "streaming"
        else "whole clip",
        **{precision: results[precision] for precision in PRECISIONS},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quant", required=True, metavar="DIR", help="quantize output (.tflite files)")
    parser.add_argument("--records", required=True, metavar="DIR", help="extraction output (TFRecords)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder for the evaluation")


def run(args: argparse.Namespace, config: Config) -> int:
    m = run_evaluate(args.quant, args.records, args.out, config)
    print(
        f"{m['model']} ({m['method']}) on {m['num_test_clips']} test clips: "
        f"float32 {m['float32_accuracy']:.4f}  int8 {m['int8_accuracy']:.4f}  "
        f"delta {100 * m['accuracy_delta']:+.2f} pp  agreement {m['prediction_agreement']:.4f}"
    )
    sanity = m["int8"]["softmax_sanity"]
    print(
        f"int8 softmax: sum {sanity['sum_min']:.3f}..{sanity['sum_max']:.3f}  max-prob mean "
        f"{sanity['max_prob_mean']:.3f}  all-equal {sanity['all_equal_fraction']:.3f}"
    )
    print(
        f"baselines: majority {m['baselines']['majority']['accuracy']:.4f}  raw-pixel 1-NN "
        f"{m['baselines']['nearest_neighbour']['accuracy']:.4f} -> {args.out}"
    )
    return 0
