"""Classification metrics and their files, shared by train (float model) and evaluate (TFLite).

One call writes the scikit-learn classification report as CSV and the confusion matrix as ``.npy``
and PNG, and returns the headline numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.errors import TinysignError
from tinysign.reporting.plots import plot_confusion_matrix

TOP_K = 5
CONFIDENCE = 0.95


def accuracy_interval(correct: int, total: int) -> list[float]:
    """``[low, high]``: the 95 % Wilson score interval of an accuracy of ``correct`` in ``total`` clips
    (honest at 0 and 1 and on a few clips, where the normal approximation is not)."""
    from scipy.stats import binomtest

    interval = binomtest(correct, total).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return [float(interval.low), float(interval.high)]


def classification_outputs(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray | None,
    probs: np.ndarray | None,
    labels: list[str],
    out_dir: str | Path,
    prefix: str,
) -> dict[str, Any]:
    """Write ``<prefix>_classification_report.csv``, ``<prefix>_confusion_matrix.{npy,png}``.

    Args:
        y_true: true class indices, shape (N,).
        y_pred: predicted class indices, shape (N,); ``None`` = ``argmax(probs)``.
        probs: class scores, shape (N, C) (softmax or dequantized int8); ``None`` skips top-5.
        labels: class names, index = class id (``schema.json["labels"]``).
        out_dir: folder for the files (created).
        prefix: file-name prefix, e.g. ``float`` or ``int8``.

    Returns:
        ``{"accuracy", "top5_accuracy" (None without probs; 1.0 when C <= 5), "top_k",
        "macro_f1", "weighted_f1", "macro_precision", "macro_recall", "num_examples",
        "classification_report_csv", "confusion_matrix_npy", "confusion_matrix_png"}``
        (paths as strings; the matrix itself is in the ``.npy``: rows = true, columns = predicted).
    """
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, top_k_accuracy_score

    y_true = np.asarray(y_true, dtype=np.int64)
    num_classes = len(labels)
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(y_true), num_classes):
            raise TinysignError(
                f"{prefix}: scores have shape {probs.shape}, expected "
                f"({len(y_true)}, {num_classes}); labels do not match the model"
            )
    if y_pred is None:
        if probs is None:
            raise TinysignError(f"{prefix}: need predictions or scores to compute metrics")
        y_pred = probs.argmax(axis=1)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if len(y_true) == 0 or len(y_pred) != len(y_true):
        raise TinysignError(f"{prefix}: {len(y_true)} labels but {len(y_pred)} predictions")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    class_ids = list(range(num_classes))

    report = classification_report(
        y_true, y_pred, labels=class_ids, target_names=labels, output_dict=True, zero_division=0
    )
    csv_path = out / f"{prefix}_classification_report.csv"
    _write_report_csv(report, len(y_true), csv_path)

    matrix = confusion_matrix(y_true, y_pred, labels=class_ids)
    npy_path = out / f"{prefix}_confusion_matrix.npy"
    np.save(npy_path, matrix)
    png_path = plot_confusion_matrix(
        matrix, labels, out / f"{prefix}_confusion_matrix.png", title=f"{prefix} confusion matrix"
    )

    k = min(TOP_K, num_classes)
    top_k: float | None = None
    if probs is not None:
        top_k = 1.0 if k >= num_classes else float(top_k_accuracy_score(y_true, probs, k=k, labels=class_ids))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top5_accuracy": top_k,
        "top_k": k,
        "macro_f1": float(report["macro avg"]["f1-score"]),
        "weighted_f1": float(report["weighted avg"]["f1-score"]),
        "macro_precision": float(report["macro avg"]["precision"]),
        "macro_recall": float(report["macro avg"]["recall"]),
        "num_examples": int(len(y_true)),
        "classification_report_csv": str(csv_path),
        "confusion_matrix_npy": str(npy_path),
        "confusion_matrix_png": str(png_path),
    }


def _write_report_csv(report: dict[str, Any], total: int, path: Path) -> None:
    """sklearn's report dict -> CSV rows ``label,precision,recall,f1-score,support``."""
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["label", "precision", "recall", "f1-score", "support"])
        for name, row in report.items():
            if isinstance(row, dict):
                writer.writerow(
                    [name]
                    + [f"{row[c]:.4f}" for c in ("precision", "recall", "f1-score")]
                    + [int(row["support"])]
                )
            else:  # "accuracy" is a bare float in sklearn's dict
                writer.writerow([name, "", "", f"{row:.4f}", total])
