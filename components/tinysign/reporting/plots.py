"""PNG plots shared by the stages: training curves (with the learning rate), per-class distributions,
confusion matrices (counts, and normalised side by side), few-shot accuracy against k, live spotting.

matplotlib runs on the Agg backend (no display needed); every function writes one PNG and returns
its path. Figures are closed after saving so long pipelines do not leak memory. Text is text: mathtext
is off, so a gloss like ``$x^2$`` is drawn as written, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # labels are glosses, not markup
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def plot_history(history: Mapping[str, Sequence[float]], path: str | Path, title: str = "training") -> Path:
    """Loss and accuracy, train vs val, per epoch (the seed's training plot), and the learning rate
    when the history has it.

    Args:
        history: Keras ``History.history``-style dict (``loss``, ``val_loss``, ``accuracy``,
            ``val_accuracy``, ``learning_rate``; missing keys are skipped).
        path: PNG to write.
        title: figure title.
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    rates = [r for r in history.get("learning_rate") or [] if r is not None]
    fig, axes = plt.subplots(1, 3 if rates else 2, figsize=(15 if rates else 10, 4))
    if rates:
        ax = axes[2]
        ax.plot(range(1, len(rates) + 1), rates, "-o", markersize=3, color="tab:purple")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("learning rate (end of epoch)")
        ax.set_title("learning rate")
        ax.grid(alpha=0.3)
    for ax, metric in zip(axes[:2], ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-o"), (f"val_{metric}", "-s")):
            values = history.get(key)
            if values:
                ax.plot(
                    range(1, len(values) + 1),
                    values,
                    style,
                    markersize=3,
                    label="val" if key.startswith("val_") else "train",
                )
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(title)
    return _save(fig, path)


def plot_distribution(
    counts: Mapping[str, Sequence[int]],
    labels: Sequence[str],
    path: str | Path,
    title: str = "examples per class",
) -> Path:
    """One bar chart per split (plus ``combined``) of the number of examples per class.

    Args:
        counts: split name -> count per class index (length ``len(labels)``). A ``combined`` panel
            (the sum) is added when more than one split is given.
        labels: class names.
        path: PNG to write.
        title: figure title.
    """
    plt = _pyplot()
    panels = {name: np.asarray(c, dtype=np.int64) for name, c in counts.items()}
    if len(panels) > 1:
        panels["combined"] = np.sum(list(panels.values()), axis=0)
    width = max(6.0, 0.25 * len(labels) + 2)
    fig, axes = plt.subplots(len(panels), 1, figsize=(width, 2.4 * len(panels)), squeeze=False)
    x = np.arange(len(labels))
    for ax, (name, values) in zip(axes[:, 0], panels.items(), strict=True):
        ax.bar(x, values, color="tab:blue" if name != "combined" else "tab:gray")
        ax.set_title(f"{name}: {int(values.sum())} examples")
        ax.set_ylabel("count")
        ax.set_xticks(x)
        ax.set_xticklabels(labels if len(labels) <= 60 else [""] * len(labels), rotation=90, fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def plot_confusion_matrix(
    matrix: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "confusion matrix"
) -> Path:
    """Confusion matrix heat map (rows = true class, columns = predicted), counts annotated.

    Args:
        matrix: square count matrix (``sklearn.metrics.confusion_matrix`` order).
        labels: class names in the same order.
        path: PNG to write.
        title: figure title.
    """
    plt = _pyplot()
    matrix = np.asarray(matrix)
    n = len(labels)
    size = min(20.0, max(4.0, 0.35 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(n)
    show_names = n <= 60
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(labels if show_names else [""] * n, rotation=90, fontsize=7)
    ax.set_yticklabels(labels if show_names else [""] * n, fontsize=7)
    if n <= 30:
        threshold = matrix.max() / 2 if matrix.size and matrix.max() > 0 else 0.5
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        str(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if matrix[i, j] > threshold else "black",
                    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return _save(fig, path)


def plot_confusion_matrices(
    matrices: Mapping[str, np.ndarray], labels: Sequence[str], path: str | Path
) -> Path:
    """Confusion matrices side by side, each row normalised to the share of that true class (so classes
    with few clips read like the others); the percentage is written in each cell up to 30 classes.

    Args:
        matrices: name (e.g. ``INT8``) -> square count matrix (rows = true class).
        labels: class names in the matrices' order.
        path: PNG to write.
    """
    plt = _pyplot()
    n = len(labels)
    side = min(14.0, max(4.0, 0.32 * n + 2.5))
    fig, axes = plt.subplots(1, len(matrices), figsize=(side * len(matrices), side), squeeze=False)
    names = labels if n <= 60 else [""] * n
    for ax, (name, counts) in zip(axes[0], matrices.items(), strict=True):
        counts = np.asarray(counts, dtype=np.float64)
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(np.arange(n))
        ax.set_yticks(np.arange(n))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_yticklabels(names, fontsize=7)
        if n <= 30:
            for i, j in zip(*np.nonzero(counts), strict=True):
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, f"{shares[i, j]:.0%}", ha="center", va="center", fontsize=6, color=color)
        accuracy = np.trace(counts) / max(counts.sum(), 1)
        ax.set_title(f"{name}: accuracy {accuracy:.1%} on {int(counts.sum())} clips")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.colorbar(image, ax=list(axes[0]), fraction=0.025, pad=0.02, label="share of the true class")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_accuracy_vs_k(results: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Few-shot accuracy (mean ± std over draws) against the clips per sign ``k``.

    Args:
        results: ``{k: {"mean", "std"}}`` (an enroll summary's ``accuracy_vs_k``).
        path: PNG to write.
    """
    plt = _pyplot()
    ks = [int(k) for k in results]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(
        ks,
        [results[str(k)]["mean"] for k in ks],
        yerr=[results[str(k)]["std"] for k in ks],
        fmt="-o",
        capsize=3,
        label="INT8 prototype head",
    )
    ax.set_xticks(ks)
    ax.set_xlabel("enrollment clips per sign (k)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def plot_precision_recall(
    curves: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | Path,
    chosen: float | Mapping[str, float] | None = None,
) -> Path:
    """Live-spotting precision against recall as the detection threshold moves, one line per curve.

    Args:
        curves: ``{name: [{"threshold", "precision", "recall"}]}`` (a spotting summary's ``curve``).
        path: PNG to write.
        chosen: the configured threshold, marked on every curve (or one per curve name).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4))
    for name, points in curves.items():
        shown = [p for p in points if p["precision"] is not None]
        line = ax.plot([p["recall"] for p in shown], [p["precision"] for p in shown], "-o", ms=3, label=name)
        marked = chosen.get(name) if isinstance(chosen, Mapping) else chosen
        for p in shown:
            if marked is not None and abs(p["threshold"] - marked) < 1e-9:
                ax.plot(p["recall"], p["precision"], "s", ms=9, mfc="none", color=line[0].get_color())
    ax.set_xlabel("recall (vocabulary signs said, once, in time)")
    ax.set_ylabel("precision (emissions that are right)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    title = "square: the configured threshold" if chosen is not None else None
    ax.legend(loc="lower left", fontsize=8, title=title, title_fontsize=7)
    return _save(fig, path)


def plot_timeline(
    seconds: np.ndarray,
    averaged: np.ndarray,
    labels: Sequence[str],
    spans: Sequence[tuple[float, float, str]],
    emissions: Sequence[tuple[float, str, bool]],
    threshold: float,
    path: str | Path,
) -> Path:
    """One stream at a glance: the recognizer's averaged score of each class over time, where the signs
    really were, and what was said.

    Args:
        seconds: time of each output ``(K,)``.
        averaged: window-averaged class probabilities ``(K, classes)``.
        labels: class names.
        spans: ``(start s, end s, sign)`` of each clip's sign.
        emissions: ``(time s, label, right?)`` of each emission.
        threshold: the detection threshold (dashed line).
        path: PNG to write.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(14, 3.6))
    for start, end, sign in spans:
        ax.axvspan(start, end, color="0.85", zorder=0)
        ax.text((start + end) / 2, 1.06, sign, ha="center", va="bottom", fontsize=6, rotation=30)
    shown = [c for c in range(averaged.shape[1]) if averaged.shape[0] and averaged[:, c].max() >= 0.25]
    for c in shown:
        style = ":" if labels[c] in ("rest", "unknown") else "-"
        ax.plot(seconds, averaged[:, c], style, lw=1, label=labels[c])
    ax.axhline(threshold, color="k", ls="--", lw=0.8)
    for time, label, right in emissions:
        ax.axvline(time, color="tab:green" if right else "tab:red", lw=1.5)
        ax.text(
            time, -0.04, label, color="tab:green" if right else "tab:red", ha="center", va="top", fontsize=6
        )
    ax.set_ylim(-0.12, 1.2)
    ax.set_xlim(seconds[0] if len(seconds) else 0, seconds[-1] if len(seconds) else 1)
    ax.set_xlabel("seconds (grey: a sign's motion; lines: averaged score; green/red: said right/wrong)")
    ax.set_ylabel("probability")
    ax.legend(loc="upper right", fontsize=6, ncol=max(1, len(shown) // 6 + 1), framealpha=0.7)
    return _save(fig, path)
