"""Train s3dconv1d or streaming on the extracted TFRecords (resumable, optionally distributed).

Writes to ``--out``: ``model.keras`` (best weights), ``best.keras`` (best checkpoint),
``labels.txt``, ``history.json``, ``training_curves.png``, ``distribution.png``,
``float_classification_report.csv``, ``float_confusion_matrix.{npy,png}``, ``metrics.json`` and
``tensorboard/`` (event files: loss, accuracy and learning rate per epoch, train and val; open with
``tensorboard --logdir OUT/tensorboard``).

Resume: ``backup/`` holds a ``BackupAndRestore`` checkpoint after every epoch; rerunning the same
command after a crash or SIGKILL continues from the last completed epoch (history, best checkpoint
and early-stopping counters included). Strategies: ``default``, ``mirrored`` (all local devices) and
``multiworker`` (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, RING collectives). With several
workers sharing ``--out`` the chief writes the outputs above; every other worker writes its
``model.keras``/``metrics.json``/``history.json`` to ``workers/<type>-<index>/``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.arguments import add_folders
from tinysign.artifacts import (
    BACKUP_DIR,
    BEST_CHECKPOINT,
    DISTRIBUTION_PLOT,
    EPOCH_LOG,
    HISTORY_FILE,
    LABELS_FILE,
    MODEL_FILE,
    RESUME_FILE,
    TENSORBOARD_DIR,
    TRAINING_CURVES,
)
from tinysign.config import Config
from tinysign.data import inputs, records
from tinysign.errors import TinysignError
from tinysign.model.architectures import build_model, count_macs, load_model
from tinysign.model.backend import keras
from tinysign.model.files import write_labels
from tinysign.reporting.metrics import TOP_K, classification_outputs
from tinysign.reporting.plots import plot_distribution, plot_history
from tinysign.reporting.summaries import TrainSummary, write_summary


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
    chief, worker_name = _chief_and_name(strategy)
    labels, config = _labels_and_shape(records_dir, config)
    counts = {split: label_counts(records_dir, split, labels) for split in ("train", "val", "test")}
    examples = {split: int(c.sum()) for split, c in counts.items()}
    for split in ("train", "val"):  # val: early stopping and the best checkpoint are chosen on it
        if examples[split] == 0:
            raise TinysignError(records.empty_split_message(records_dir, split))
    out = Path(out_dir)
    work = out if chief else out / "workers" / worker_name
    work.mkdir(parents=True, exist_ok=True)
    backup = out / BACKUP_DIR
    if chief and config.strategy != "multiworker":
        _discard_stale_backup(out, backup, records_dir, config)

    k = keras()
    k.utils.set_random_seed(config.seed)
    monitor = "val_loss"
    replicas = int(strategy.num_replicas_in_sync)
    train_ds = _split_dataset(records_dir, "train", examples["train"], config, replicas)
    val_ds = _split_dataset(records_dir, "val", examples["val"], config, replicas)
    top_k = min(TOP_K, len(labels))
    with strategy.scope():
        model = build_model(config.model, len(labels), config)
        model.compile(
            optimizer=k.optimizers.Adam(
                learning_rate(config, steps_per_epoch(examples["train"], config.batch_size))
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy", k.metrics.SparseTopKCategoricalAccuracy(top_k, name="top_k")],
        )
    checkpoint = k.callbacks.ModelCheckpoint(str(out / BEST_CHECKPOINT), monitor=monitor, save_best_only=True)
    early = (
        k.callbacks.EarlyStopping(monitor=monitor, patience=config.patience, restore_best_weights=True)
        if config.patience
        else None
    )
    log = _epoch_log_class()(work / EPOCH_LOG, monitor, checkpoint, early)
    # Order matters: an epoch is logged and checkpointed before it is backed up.
    tensorboard = k.callbacks.TensorBoard(str(work / TENSORBOARD_DIR), write_graph=False, update_freq="epoch")
    callbacks = [_learning_rate_class()(), log, checkpoint, k.callbacks.BackupAndRestore(str(backup))]
    callbacks += [early] if early else []
    callbacks.append(tensorboard)  # last: it writes every value the callbacks above put into the logs

    print(
        f"train: {config.model} ({model.count_params():,} params) on {examples['train']} train / "
        f"{examples['val']} val clips, {len(labels)} classes, strategy {config.strategy} "
        f"({replicas} replica(s))",
        flush=True,
    )
    started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, verbose=2)
    train_seconds = time.time() - started

    history = log.history()
    # early stopping keeps the best epoch on val loss; a full schedule keeps its last epoch
    best_epoch = int(np.argmin(history[monitor])) if early else len(history[monitor]) - 1
    final = build_model(config.model, len(labels), config)  # outside the strategy: plain model to save
    final.set_weights(_best_weights(model, out / BEST_CHECKPOINT, best_epoch, log.start_epoch))
    final.save(work / MODEL_FILE)
    (work / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    result: TrainSummary = {
        "model": config.model,
        "strategy": config.strategy,
        "worker": worker_name,
        "num_replicas": replicas,
        "num_classes": len(labels),
        "params": int(final.count_params()),
        "macs": count_macs(final),
        "epochs_run": len(history["epoch"]),
        "epochs_requested": config.epochs,
        "resumed_from_epoch": log.start_epoch,
        "monitor": monitor,
        "best_epoch": best_epoch + 1,
        "best_monitor_value": history[monitor][best_epoch],
        "best_val_accuracy": history["val_accuracy"][best_epoch],
        "seconds_per_epoch": round(float(np.mean(history["seconds"])), 3),
        "train_seconds_this_run": round(train_seconds, 2),
        "examples": examples,
        "model_path": str(work / MODEL_FILE),
        "top_k": top_k,
        "front_end": config.front_end,
        "binning": config.binning,
        **_test_report(final, records_dir, labels, work, config, examples["test"]),
    }
    if chief:
        _write_chief_outputs(out, labels, history, counts, config.model)
    write_summary(work, result)
    return result


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


def _best_weights(model: Any, best_path: Path, best_epoch: int, start_epoch: int) -> list[np.ndarray]:
    """EarlyStopping restored the best weights of this run; an earlier best is in the checkpoint."""
    if best_epoch < start_epoch and best_path.exists():
        return load_model(best_path).get_weights()
    return model.get_weights()


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
    (out / RESUME_FILE).unlink(missing_ok=True)
    backup = out / BACKUP_DIR
    if backup.is_dir() and not any(backup.iterdir()):
        backup.rmdir()  # BackupAndRestore empties it after a completed run


def make_strategy(name: str) -> Any:
    """``default`` | ``mirrored`` | ``multiworker`` (``TF_CONFIG`` cluster, RING all-reduce)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return tf.distribute.get_strategy()


def _chief_and_name(strategy: Any) -> tuple[bool, str]:
    """(is this the chief?, ``<task_type>-<index>``) — single-process runs are the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    if not task_type:
        return True, "chief-0"
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return chief, f"{task_type}-{task_id}"


def _split_dataset(records_dir: str | Path, split: str, count: int, config: Config, replicas: int) -> Any:
    """The (shuffled, for train) ``tf.data`` input of ``split``; ``None`` when it is empty."""
    if count == 0:
        return None
    training = split == "train"
    dataset = records.make_dataset(
        records_dir,
        split,
        config.batch_size,
        shuffle=training,
        seed=config.seed,
        transform=inputs.model_input(config, training=training),  # augmented: train only
    )
    return _distributed(dataset, count, config.batch_size, replicas)


def _distributed(dataset: Any, count: int, batch_size: int, replicas: int) -> Any:
    """Shard by data; with several replicas, only full global batches.

    A short last batch can leave a replica with an empty batch, and oneDNN's CPU Conv2D returns a
    wrongly shaped tensor for an empty batch (TF 2.21), so with >1 replica every epoch is
    ``ceil(count / batch_size)`` full batches (the last one wraps around to the first clips).
    """
    import tensorflow as tf

    if replicas > 1:
        steps = steps_per_epoch(count, batch_size)
        dataset = dataset.unbatch().repeat().take(steps * batch_size).batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def label_counts(records_dir: str | Path, split: str, labels: list[str]) -> np.ndarray:
    """Examples per class index in ``split`` (zeros when the split has no shards).

    Read from the extraction's ``stats.json`` when it has the split; else by reading every record.
    """
    num_classes = len(labels)
    counts = np.zeros(num_classes, dtype=np.int64)
    if not list(Path(records_dir).glob(records.shard_pattern(split))):
        return counts
    stats = records.read_stats(records_dir)
    per_label = (stats.get("counts") or {}).get(split) if stats else None
    if isinstance(per_label, dict) and set(per_label) <= set(labels):
        for label, kinds in per_label.items():
            counts[labels.index(label)] = sum(kinds.values())
        return counts
    for record in records.iter_records(records_dir, split):
        if not 0 <= record.label < num_classes:
            raise TinysignError(
                f"{records_dir}: {split} clip {record.clip_id} has label {record.label}, "
                f"outside schema.json's {num_classes} labels; re-run extraction"
            )
        counts[record.label] += 1
    return counts


def _discard_stale_backup(out: Path, backup: Path, records_dir: str | Path, config: Config) -> None:
    """Resume only the same run: a backup from other records/config would not load (or mislead)."""
    fingerprint = {"records": str(Path(records_dir).resolve()), "config": config.to_dict()}
    resume_file = out / RESUME_FILE
    if backup.is_dir() and any(backup.iterdir()):
        try:
            same = json.loads(resume_file.read_text()) == fingerprint
        except (FileNotFoundError, json.JSONDecodeError):
            same = False
        if same:
            print(f"train: resuming from {backup}", flush=True)
        else:
            print(
                f"train: {backup} belongs to another run (records/config differ); starting afresh", flush=True
            )
            shutil.rmtree(backup)
    elif backup.is_dir():
        backup.rmdir()
    resume_file.write_text(json.dumps(fingerprint, indent=1) + "\n")


def steps_per_epoch(count: int, batch_size: int) -> int:
    """Batches in one pass over ``count`` examples (the last one may be short)."""
    return -(-count // batch_size)


def learning_rate(config: Config, steps: int) -> Any:
    """The optimizer's learning rate: ``config.learning_rate``, or (``lr_schedule=cosine``) a linear
    warm-up over ``warmup_epochs`` to it, then a cosine decay to 0 at the last epoch (``steps`` per epoch)."""
    if config.lr_schedule == "constant":
        return config.learning_rate
    warmup = min(config.warmup_epochs, config.epochs - 1) * steps
    return keras().optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate,
        config.epochs * steps - warmup,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


@functools.cache
def _learning_rate_class() -> type:
    """A callback that adds the optimizer's current learning rate to each epoch's logs."""

    class LearningRate(keras().callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if logs is not None:
                rate = self.model.optimizer.learning_rate
                value = rate(self.model.optimizer.iterations) if callable(rate) else rate
                logs["learning_rate"] = float(keras().backend.get_value(value))

    return LearningRate


@functools.cache
def _epoch_log_class() -> type:
    """The :class:`EpochLog` callback class (Keras is imported lazily)."""

    class EpochLog(keras().callbacks.Callback):
        """Append every finished epoch to a JSON-lines log and restore state on resume.

        Runs before ``BackupAndRestore``, so an epoch is logged before it is backed up. On resume
        the log is cut back to the epochs before the restored one, and the best checkpoint's
        threshold and early stopping's best/wait counters are set from it.
        """

        def __init__(self, path: Path, monitor: str, checkpoint: Any, early: Any) -> None:
            super().__init__()
            self.path, self.monitor, self.checkpoint, self.early = path, monitor, checkpoint, early
            self.entries: list[dict[str, Any]] = []
            self.start_epoch: int | None = None
            self._epoch_started = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.start_epoch is None:
                self._resume(epoch)
            self._epoch_started = time.time()

        def _resume(self, epoch: int) -> None:
            self.start_epoch = epoch
            if epoch > 0 and self.path.exists():
                lines = self.path.read_text().splitlines()
                self.entries = [e for e in map(json.loads, filter(None, lines)) if e["epoch"] < epoch]
            self.path.write_text("".join(json.dumps(e) + "\n" for e in self.entries))
            values = [e[self.monitor] for e in self.entries if self.monitor in e]
            if values:
                best = int(np.argmin(values))
                self.checkpoint.best = values[best]
                if self.early is not None:
                    self.early.best = values[best]
                    self.early.best_epoch = best
                    self.early.wait = epoch - 1 - best

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            entry = {
                "epoch": epoch,
                **{k: float(v) for k, v in (logs or {}).items()},
                "seconds": round(time.time() - self._epoch_started, 3),
                "pid": os.getpid(),
            }
            self.entries.append(entry)
            with open(self.path, "a") as stream:
                stream.write(json.dumps(entry) + "\n")
                stream.flush()
                os.fsync(stream.fileno())

        def history(self) -> dict[str, list[Any]]:
            """Keras-style ``{metric: [per epoch]}`` over every epoch, earlier runs included."""
            keys = sorted({key for entry in self.entries for key in entry})
            return {key: [entry.get(key) for entry in self.entries] for key in keys}

    return EpochLog
