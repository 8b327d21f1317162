"""Train s3dconv1d or streaming on the extracted TFRecords (resumable, optionally distributed).

Writes to ``--out``: ``model.keras`` (best weights), ``best.keras`` (best checkpoint),
``labels.txt``, ``history.json``, ``training_curves.png``, ``distribution.png``,
``float_classification_report.csv``, ``float_confusion_matrix.{npy,png}``, ``metrics.json`` and
``tensorboard/`` (event files: loss, accuracy and learning rate per epoch, train and val; open with
``tensorboard --logdir OUT/tensorboard``).

Rerunning the same command after a crash or SIGKILL resumes from the last completed epoch.
Strategies: ``default``, ``mirrored`` and ``multiworker`` (``TF_CONFIG``). With several workers
sharing ``--out`` the chief writes the outputs above; every other worker writes its
``model.keras``/``metrics.json``/``history.json`` to ``workers/<type>-<index>/``. The machinery
(strategy, datasets, schedule, callbacks, resume) is in :mod:`tinysign.model.training`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import DISTRIBUTION_PLOT, HISTORY_FILE, LABELS_FILE, MODEL_FILE, TRAINING_CURVES
from tinysign.config import SPLITS, Config
from tinysign.data import inputs, records
from tinysign.errors import TinysignError
from tinysign.model.architectures import build_model, count_macs
from tinysign.model.backend import keras
from tinysign.model.files import write_labels
from tinysign.model.training import (
    MONITOR,
    TRAIN_MONITOR,
    best_epoch,
    best_weights,
    chief_and_name,
    compile_for_training,
    finish_resume,
    make_strategy,
    prepare_resume,
    split_dataset,
    steps_per_epoch,
    training_callbacks,
)
from tinysign.reporting.metrics import TOP_K, classification_outputs
from tinysign.reporting.plots import plot_distribution, plot_history
from tinysign.summaries import TrainSummary, stamped, write_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_folders(parser, "output folder (rerun the same command to resume)", records=True)


def run(args: argparse.Namespace, config: Config) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # per-epoch lines reach piped/KFP logs at once
    result = run_train(args.records, args.out, config)
    top5 = result["test_top5_accuracy"]
    print(
        f"train: {result['model']} test accuracy {_fmt(result['test_accuracy'])} "
        f"(top-{result['top_k']} {_fmt(top5)}), {result['epochs_run']} epochs, best epoch "
        f"{result['best_epoch']}, {result['params']:,} params, {result['macs']:,} MACs/clip "
        f"-> {result['model_path']}"
    )
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@stamped("train")
def run_train(records_dir: str | Path, out_dir: str | Path, config: Config) -> TrainSummary:
    """Train ``config.model`` on ``records_dir`` and write every training output to ``out_dir``.

    Args:
        records_dir: extraction output with ``schema.json`` and ``{train,val,test}-*.tfrecord``.
        out_dir: output folder; rerunning with the same arguments resumes an interrupted run.
        config: uses model, epochs, batch_size, learning_rate, patience, seed, strategy,
            feature_dim (clip shape and labels come from ``schema.json``).

    Returns:
        The ``metrics.json`` content: test accuracy/top-5 (float model), params, MACs, epochs run,
        best epoch, seconds per epoch, example counts and output paths.
    """
    strategy = make_strategy(config.strategy)  # first: MultiWorkerMirroredStrategy needs a fresh runtime
    chief, worker = chief_and_name(strategy)
    labels, config = _labels_and_shape(records_dir, config)
    counts = {split: records.label_counts(records_dir, split, labels) for split in SPLITS}
    examples = {split: int(c.sum()) for split, c in counts.items()}
    monitor = _monitor(records_dir, examples, config)
    out = Path(out_dir)
    work = out if chief else out / "workers" / worker
    work.mkdir(parents=True, exist_ok=True)
    if chief and config.strategy != "multiworker":
        prepare_resume(out, records_dir, config)

    keras().utils.set_random_seed(config.seed)
    replicas = int(strategy.num_replicas_in_sync)
    train_ds, val_ds = (
        split_dataset(records_dir, s, examples[s], config, replicas) for s in ("train", "val")
    )
    top_k = min(TOP_K, len(labels))
    with strategy.scope():
        model = build_model(config.model, len(labels), config)
        compile_for_training(model, config, examples["train"], top_k)
    steps = steps_per_epoch(examples["train"], config.batch_size)
    callbacks = training_callbacks(out, work, config.patience, config.epochs, steps, monitor)
    print(
        f"train: {config.model} ({model.count_params():,} params) on {examples['train']} train / "
        f"{examples['val']} val clips, {len(labels)} classes, strategy {config.strategy} "
        f"({replicas} replica(s))",
        flush=True,
    )
    started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks.all, verbose=0)
    train_seconds = time.time() - started

    history, start_epoch = callbacks.log.history(), callbacks.log.start_epoch
    best = best_epoch(history, callbacks.early_stopping)
    final = build_model(config.model, len(labels), config)  # outside the strategy: plain model to save
    final.set_weights(best_weights(model, out, best, start_epoch))
    final.save(work / MODEL_FILE)
    (work / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    result = _summary(final, history, best, config, examples, top_k, work / MODEL_FILE, monitor)
    result.update(worker=worker, num_replicas=replicas, resumed_from_epoch=start_epoch)
    result.update(train_seconds_this_run=round(train_seconds, 2))
    result.update(_test_report(final, records_dir, labels, work, config, examples["test"]))  # type: ignore[typeddict-item]
    if chief:
        _write_chief_outputs(out, labels, history, counts, config.model)
    write_summary(work, result)
    return result


def _monitor(records_dir: str | Path, examples: dict[str, int], config: Config) -> str:
    """What the best checkpoint (and early stopping) watch: val loss; without a val split (a final model
    trained on every training signer) the training loss, with the whole schedule and no early stopping."""
    if examples["train"] == 0:
        raise TinysignError(records.empty_split_message(records_dir, "train"))
    if examples["val"]:
        return MONITOR
    if config.patience:
        raise TinysignError(
            f"{records.empty_split_message(records_dir, 'val')} (early stopping, patience={config.patience}, "
            "watches it; --set patience=0 trains the whole schedule without one)"
        )
    print("train: no val split: training the whole schedule without validation", flush=True)
    return TRAIN_MONITOR


def _labels_and_shape(records_dir: str | Path, config: Config) -> tuple[list[str], Config]:
    """Labels from ``schema.json``; the clip shape of the records wins over the config's."""
    schema = records.read_schema(records_dir)
    frames, size = int(schema["num_frames"]), int(schema["img_size"])
    if (frames, size) != (config.num_frames, config.img_size):
        print(
            f"train: using the records' clip shape {frames}x{size}x{size} "
            f"(config says {config.num_frames}x{config.img_size}x{config.img_size})",
            flush=True,
        )
    return [str(label) for label in schema["labels"]], config.replace(num_frames=frames, img_size=size)


def _summary(
    model: Any,
    history: dict[str, list[Any]],
    best: int,
    config: Config,
    examples: dict[str, int],
    top_k: int,
    model_path: Path,
    monitor: str,
) -> TrainSummary:
    """The model's and the history's numbers (the run's facts and the test report are added)."""
    return {
        "model": config.model,
        "strategy": config.strategy,
        "num_classes": int(model.output_shape[-1]),
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "epochs_run": len(history["epoch"]),
        "epochs_requested": config.epochs,
        "monitor": monitor,
        "best_epoch": best + 1,
        "best_monitor_value": history[monitor][best],
        "best_val_accuracy": history["val_accuracy"][best] if "val_accuracy" in history else None,
        "seconds_per_epoch": round(float(np.mean(history["seconds"])), 3),
        "examples": examples,
        "model_path": str(model_path),
        "top_k": top_k,
        "front_end": config.front_end,
        "binning": config.binning,
    }


def _test_report(
    model: Any, records_dir: str | Path, labels: list[str], out: Path, config: Config, count: int
) -> dict[str, Any]:
    """Float-model classification report + confusion matrix on the test split."""
    if count == 0:
        print("train: warning: the test split is empty; no test metrics", flush=True)
        return {"test_accuracy": None, "test_top5_accuracy": None}
    batches = [
        (model(x, training=False).numpy(), y.numpy())
        for x, y in records.make_dataset(
            records_dir, "test", config.batch_size, transform=inputs.model_input(config, training=False)
        )
    ]
    probs, y_true = np.concatenate([p for p, _ in batches]), np.concatenate([y for _, y in batches])
    report = classification_outputs(y_true, None, probs, labels, out, prefix="float")
    return {
        "test_accuracy": report["accuracy"],
        "test_top5_accuracy": report["top5_accuracy"],
        "test_macro_f1": report["macro_f1"],
        "classification_report_csv": report["classification_report_csv"],
        "confusion_matrix_npy": report["confusion_matrix_npy"],
    }


def _write_chief_outputs(
    out: Path,
    labels: list[str],
    history: dict[str, list[Any]],
    counts: dict[str, np.ndarray],
    model_name: str,
) -> None:
    """labels.txt, the plots, and the end of the resume bookkeeping (chief only)."""
    write_labels(out / LABELS_FILE, labels)
    plot_history(history, out / TRAINING_CURVES, title=f"{model_name} training")
    plot_distribution(
        {s: c.tolist() for s, c in counts.items()}, labels, out / DISTRIBUTION_PLOT, title="clips per class"
    )
    finish_resume(out)
