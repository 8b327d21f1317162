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
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinysign.arguments import add_folders
from tinysign.config import Config
from tinysign.data import records
from tinysign.errors import TinysignError
from tinysign.model.baselines import REFERENCES_PER_CLASS, FeatureBank, TrivialBaselines, strongest
from tinysign.model.files import PRECISIONS, check_records, load_quantized
from tinysign.reporting.metrics import classification_outputs
from tinysign.reporting.views import BASELINE_NAMES
from tinysign.runtime.litert import dequantize
from tinysign.runtime.streaming import lite_classifier
from tinysign.summaries import EvaluateSummary, write_summary


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


def run_evaluate(
    quant_dir: str | Path, records_dir: str | Path, out_dir: str | Path, config: Config
) -> EvaluateSummary:
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
    del config
    quant = load_quantized(quant_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_records(records_dir, quant.labels, quant.num_frames, quant.img_size)
    classifiers = {precision: lite_classifier(quant, precision) for precision in PRECISIONS}
    raws: dict[str, list[np.ndarray]] = {precision: [] for precision in PRECISIONS}
    seconds = dict.fromkeys(PRECISIONS, 0.0)
    labels: list[int] = []
    # 1-NN references: a bounded sample of the train split (REFERENCES_PER_CLASS clips per class)
    references = FeatureBank().add_records(
        records.iter_records(records_dir, "train"), per_label=REFERENCES_PER_CLASS
    )
    if not references.labels:
        raise TinysignError(records.empty_split_message(records_dir, "train"))
    trivial = TrivialBaselines(references)
    del references  # the baselines keep the matrices they need
    for record in tqdm(
        records.iter_records(records_dir, "test"), desc="test clips", unit="clip", leave=False
    ):
        for precision, classifier in classifiers.items():  # one clip in memory at a time
            started = time.perf_counter()
            raws[precision].append(classifier.classify(record.frames).reshape(-1))
            seconds[precision] += time.perf_counter() - started
        labels.append(record.label)
        trivial.score(record.frames, record.label)
    if not labels:
        raise TinysignError(records.empty_split_message(records_dir, "test"))
    baselines = trivial.results()
    strongest_name, strongest_accuracy = strongest(baselines)
    results: dict[str, Any] = {}
    predictions: dict[str, np.ndarray] = {}
    for precision, classifier in classifiers.items():
        raw = np.stack(raws[precision])
        probs = dequantize(raw, classifier.output_qparams)
        predictions[precision] = probs.argmax(axis=1)
        summary = classification_outputs(labels, predictions[precision], probs, quant.labels, out, precision)
        summary["softmax_sanity"] = softmax_sanity(raw, probs)
        summary["seconds_per_clip"] = seconds[precision] / len(labels)
        results[precision] = summary
    summary: EvaluateSummary = {
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
        "baselines": baselines,
        "strongest_baseline": {"name": strongest_name, "accuracy": strongest_accuracy},
        "deployment_path": "frame model per frame -> ring buffer -> head"
        if quant.kind == "streaming"
        else "whole clip",
        "int8": results["int8"],
        "float32": results["float32"],
    }
    write_summary(out, summary)
    return summary


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folders(parser, "output folder for the evaluation", quant=True, records=True)


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
    baselines = "  ".join(f"{BASELINE_NAMES[n]} {b['accuracy']:.4f}" for n, b in m["baselines"].items())
    print(
        f"baselines: {baselines} (strongest: {BASELINE_NAMES[m['strongest_baseline']['name']]}) -> {args.out}"
    )
    return 0
