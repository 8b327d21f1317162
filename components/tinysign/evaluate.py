"""INT8 vs float32 TFLite evaluation on the test split (LiteRT), with the seed's softmax sanity.

Both ``.tflite`` precisions from ``tinysign quantize`` run in ``ai_edge_litert`` on every test clip:
accuracy, top-5, per-class report (CSV), confusion matrix (``.npy`` + PNG, via
:func:`tinysign.reporting.metrics.classification_outputs`), the float-vs-INT8 accuracy delta and
prediction agreement, softmax sanity of the dequantized outputs, latency per clip, and trivial
baselines (majority class; raw-pixel 1-nearest-neighbour on the train split) a useful model must beat.

The streaming model is evaluated on its deployment path (:mod:`tinysign.runtime.streaming`): the
frame model runs once per incoming frame, its output goes into a ring buffer of the last ``T``
feature vectors, and the head classifies the buffer.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import SPOTTING_CURVE, SPOTTING_TIMELINE
from tinysign.config import Config
from tinysign.console import progress
from tinysign.data import records
from tinysign.data.records import ClipRecord
from tinysign.errors import TinysignError
from tinysign.model.baselines import REFERENCES_PER_CLASS, FeatureBank, TrivialBaselines, strongest
from tinysign.model.files import PRECISIONS, QuantizedModel, check_records, load_quantized
from tinysign.reporting.metrics import accuracy_interval, classification_outputs
from tinysign.reporting.plots import plot_precision_recall, plot_timeline
from tinysign.reporting.views import BASELINE_NAMES
from tinysign.runtime.litert import dequantize
from tinysign.runtime.recognizer import RecognizerSettings
from tinysign.runtime.spotting import evaluate_streams, summarise, timeline_marks
from tinysign.runtime.streaming import lite_classifier
from tinysign.summaries import EvaluateSummary, SpottingSummary, stamped, write_summary


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


@stamped("evaluate")
def run_evaluate(
    quant_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> EvaluateSummary:
    """Evaluate the INT8 and float32 ``.tflite`` models of ``quant_dir`` on the test split.

    Args:
        quant_dir: quantize output (``metrics.json``, ``labels.txt``, ``.tflite`` files).
        records_dir: extraction output; only ``test`` (and ``train`` for the baselines) is read.
        out_dir: folder for ``{int8,float32}_classification_report.csv``,
            ``{int8,float32}_confusion_matrix.{npy,png}``, the spotting plots and ``metrics.json``.
        config: the recognizer (``spot_*``) and the stream order (``seed``) of the spotting protocol.

    Returns:
        The ``metrics.json`` content.
    """
    quant = load_quantized(quant_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_records(records_dir, quant.labels, quant.num_frames, quant.img_size)
    test = score_test_clips(quant, records_dir)
    results: dict[str, Any] = {}
    predictions: dict[str, np.ndarray] = {}
    for precision, raw in test.raw.items():
        probs = dequantize(raw, test.output_qparams[precision])
        predictions[precision] = probs.argmax(axis=1)
        summary = classification_outputs(
            test.labels, predictions[precision], probs, quant.labels, out, precision
        )
        summary["softmax_sanity"] = softmax_sanity(raw, probs)
        summary["seconds_per_clip"] = test.seconds[precision] / len(test.labels)
        results[precision] = summary
    strongest_name, strongest_accuracy = strongest(test.baselines)
    summary: EvaluateSummary = {
        "model": quant.kind,
        "method": quant.method,
        "num_test_clips": int(len(test.labels)),
        "accuracy_interval": {
            precision: accuracy_interval(int(np.sum(predicted == test.labels)), len(test.labels))
            for precision, predicted in predictions.items()
        },
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
        "baselines": test.baselines,
        "strongest_baseline": {"name": strongest_name, "accuracy": strongest_accuracy},
        "deployment_path": "frame model per frame -> ring buffer -> head"
        if quant.kind == "streaming"
        else "whole clip",
        "int8": results["int8"],
        "float32": results["float32"],
    }
    spotting = evaluate_spotting(quant, records_dir, out, config)
    if spotting is not None:
        summary["spotting"] = spotting
    write_summary(out, summary)
    return summary


@dataclass(frozen=True)
class TestScores:
    """Both precisions' raw outputs on every test clip, the true labels, time spent and the baselines."""

    raw: dict[str, np.ndarray]
    output_qparams: dict[str, Any]
    labels: list[int]
    seconds: dict[str, float]
    baselines: dict[str, Any]


def score_test_clips(
    quant: QuantizedModel,
    records_dir: str | Path,
    split: str = "test",
    keep: Callable[[ClipRecord], bool] | None = None,
) -> TestScores:
    """Every test clip (or every record of ``split`` that ``keep`` accepts) through both precisions along
    the deployment path, one clip in memory at a time, and through the trivial baselines (1-NN
    references: a bounded sample of the train split)."""
    classifiers = {precision: lite_classifier(quant, precision) for precision in PRECISIONS}
    raws: dict[str, list[np.ndarray]] = {precision: [] for precision in PRECISIONS}
    seconds = dict.fromkeys(PRECISIONS, 0.0)
    labels: list[int] = []
    references = FeatureBank().add_records(
        records.iter_records(records_dir, "train"), per_label=REFERENCES_PER_CLASS
    )
    if not references.labels:
        raise TinysignError(records.empty_split_message(records_dir, "train"))
    trivial = TrivialBaselines(references)
    del references  # the baselines keep the matrices they need
    total = int(records.label_counts(records_dir, split, quant.labels).sum())
    for record in progress(records.iter_records(records_dir, split), "evaluate", f"{split} clips", total):
        if keep is not None and not keep(record):
            continue
        for precision, classifier in classifiers.items():
            started = time.perf_counter()
            raws[precision].append(classifier.classify(record.frames).reshape(-1))
            seconds[precision] += time.perf_counter() - started
        labels.append(record.label)
        trivial.score(record.frames, record.label)
    if not labels:
        raise TinysignError(records.empty_split_message(records_dir, split))
    return TestScores(
        raw={precision: np.stack(values) for precision, values in raws.items()},
        output_qparams={precision: c.output_qparams for precision, c in classifiers.items()},
        labels=labels,
        seconds=seconds,
        baselines=trivial.results(),
    )


def evaluate_spotting(
    quant: QuantizedModel, records_dir: str | Path, out: Path, config: Config
) -> SpottingSummary | None:
    """Live spotting (:mod:`tinysign.runtime.spotting`) of the INT8 streaming pair on the test split's
    streams, at the configured recognizer, with its precision-recall curve and a timeline plot; ``None``
    for a whole-clip model or records without streams."""
    if quant.kind != "streaming" or not records.has_streams(records_dir, "test"):
        return None
    stream_fps = int(records.read_schema(records_dir)["stream_fps"])
    classifier = lite_classifier(quant, "int8").streaming
    head = classifier.head.output_qparams
    settings = RecognizerSettings.for_head(quant.labels, head, config)
    streams = list(records.iter_stream_records(records_dir, "test"))
    result = evaluate_streams(classifier, streams, quant.labels, settings, head[1], stream_fps, config.seed)
    summary = summarise(result, settings, config.spot_threshold, stream_fps)
    curve = {"test streams": summary["curve"]}
    summary["curve_png"] = str(plot_precision_recall(curve, out / SPOTTING_CURVE, config.spot_threshold))
    times, spans, emissions = timeline_marks(result.timeline, quant.labels, stream_fps)
    summary["timeline_png"] = str(
        plot_timeline(
            times,
            result.timeline.averaged,
            quant.labels,
            spans,
            emissions,
            config.spot_threshold,
            out / SPOTTING_TIMELINE,
        )
    )
    return summary


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folders(parser, "output folder for the evaluation", quant=True, records=True)


def run(args: argparse.Namespace, config: Config) -> int:
    m = run_evaluate(args.quant, args.records, args.out, config)
    low, high = m["accuracy_interval"]["int8"]
    print(
        f"{m['model']} ({m['method']}) on {m['num_test_clips']} test clips: "
        f"float32 {m['float32_accuracy']:.4f}  int8 {m['int8_accuracy']:.4f} (95 % CI {low:.2f}-{high:.2f})  "
        f"delta {100 * m['accuracy_delta']:+.2f} pp  agreement {m['prediction_agreement']:.4f}"
    )
    sanity = m["int8"]["softmax_sanity"]
    print(
        f"int8 softmax: sum {sanity['sum_min']:.3f}..{sanity['sum_max']:.3f}  max-prob mean "
        f"{sanity['max_prob_mean']:.3f}  all-equal {sanity['all_equal_fraction']:.3f}"
    )
    baselines = "  ".join(f"{BASELINE_NAMES[n]} {b['accuracy']:.4f}" for n, b in m["baselines"].items())
    print(
        f"baselines: {baselines} (strongest: {BASELINE_NAMES[m['strongest_baseline']['name']]}) -> {args.out}"
    )
    return 0
