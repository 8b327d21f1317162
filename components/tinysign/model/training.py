"""Training machinery: distribution strategy, input datasets, the learning-rate schedule, callbacks
and the resume bookkeeping that :func:`tinysign.train.run_train` tells the story with.

Strategies: ``default``, ``mirrored`` (all local devices) and ``multiworker``
(``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, RING collectives).

Resume: ``backup/`` holds a ``BackupAndRestore`` checkpoint after every epoch and ``epochs.jsonl``
every finished epoch (:class:`EpochLog`); rerunning the same command after a crash or SIGKILL
continues from the last completed epoch, with the history, the best checkpoint's threshold and early
stopping's counters restored. ``resume.json`` fingerprints the run (records + config) so that a
backup of another run is discarded rather than loaded.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.artifacts import BACKUP_DIR, BEST_CHECKPOINT, EPOCH_LOG, RESUME_FILE, TENSORBOARD_DIR
from tinysign.config import Config
from tinysign.console import Progress
from tinysign.data import inputs, records
from tinysign.model.architectures import load_model
from tinysign.model.backend import keras
from tinysign.model.losses import loss

MONITOR = "val_loss"  # early stopping and the best checkpoint are chosen on it
TRAIN_MONITOR = "loss"  # ... or, trained without a val split, training loss (no early stopping then)


# --- distribution -----------------------------------------------------------------------------------


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


def chief_and_name(strategy: Any) -> tuple[bool, str]:
    """(is this the chief?, ``<task_type>-<index>``) — single-process runs are the chief."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    if not task_type:
        return True, "chief-0"
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    chief = task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)
    return chief, f"{task_type}-{task_id}"


def split_dataset(records_dir: str | Path, split: str, count: int, config: Config, replicas: int) -> Any:
    """The (shuffled and augmented, for train) ``tf.data`` input of ``split``; ``None`` when empty."""
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


# --- optimisation -----------------------------------------------------------------------------------


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


def compile_for_training(model: Any, config: Config, train_examples: int, top_k: int) -> None:
    """Adam on :func:`learning_rate`, cross-entropy (:func:`loss`), accuracy and top-k accuracy."""
    k = keras()
    model.compile(
        optimizer=k.optimizers.Adam(
            learning_rate(config, steps_per_epoch(train_examples, config.batch_size))
        ),
        loss=loss(config),
        metrics=["accuracy", k.metrics.SparseTopKCategoricalAccuracy(top_k, name="top_k")],
    )


# --- callbacks and resume ---------------------------------------------------------------------------


@dataclass
class Callbacks:
    """The training callbacks (in the order they must run) and the epoch log among them."""

    all: list[Any]
    log: Any  # EpochLog
    early_stopping: bool


def training_callbacks(
    out: Path, work: Path, patience: int, epochs: int, steps: int, monitor: str = MONITOR
) -> Callbacks:
    """Learning-rate logging, the epoch log, the best checkpoint, the backup (resume), early stopping
    (``patience`` > 0), TensorBoard and progress (``epochs`` of ``steps``). Order matters: an epoch is
    logged and checkpointed before it is backed up, TensorBoard writes every value the others put into the
    logs, and an epoch is shown done once all of that happened (a run killed after the line resumes after
    that epoch)."""
    k = keras()
    checkpoint = k.callbacks.ModelCheckpoint(str(out / BEST_CHECKPOINT), monitor=monitor, save_best_only=True)
    early = (
        k.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)
        if patience
        else None
    )
    log = _epoch_log_class()(work / EPOCH_LOG, monitor, checkpoint, early)
    tensorboard = k.callbacks.TensorBoard(str(work / TENSORBOARD_DIR), write_graph=False, update_freq="epoch")
    callbacks = [
        _learning_rate_class()(),
        log,
        checkpoint,
        k.callbacks.BackupAndRestore(str(out / BACKUP_DIR)),
    ]
    callbacks += [early] if early else []
    return Callbacks([*callbacks, tensorboard, _progress_class()(epochs, steps)], log, early is not None)


def best_epoch(history: dict[str, list[Any]], early_stopping: bool) -> int:
    """Early stopping keeps the best epoch on val loss (0-based); a full schedule keeps its last."""
    return int(np.argmin(history[MONITOR])) if early_stopping else len(history["epoch"]) - 1


def best_weights(model: Any, out: Path, best: int, start_epoch: int) -> list[np.ndarray]:
    """The weights of epoch ``best``: the model's (early stopping restored this run's best), or the
    best checkpoint's when that epoch was in an earlier run."""
    best_path = out / BEST_CHECKPOINT
    if best < start_epoch and best_path.exists():
        return load_model(best_path).get_weights()
    return model.get_weights()


def prepare_resume(out: Path, records_dir: str | Path, config: Config) -> None:
    """Resume only the same run: a backup from other records/config would not load (or mislead)."""
    backup = out / BACKUP_DIR
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


def finish_resume(out: Path) -> None:
    """A completed run leaves nothing to resume (``BackupAndRestore`` empties ``backup/`` itself)."""
    (out / RESUME_FILE).unlink(missing_ok=True)
    backup = out / BACKUP_DIR
    if backup.is_dir() and not any(backup.iterdir()):
        backup.rmdir()


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


SHOWN_LOGS = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


@functools.cache
def _progress_class() -> type:
    """A callback that shows epochs and steps done with the time left (:class:`~tinysign.console.Progress`):
    a bar on a terminal, a line per epoch in a log."""

    class TrainingProgress(keras().callbacks.Callback):
        def __init__(self, epochs: int, steps: int) -> None:
            super().__init__()
            self.epochs, self.steps = epochs, steps
            self.shown: Progress | None = None

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.shown is None:  # a resumed run starts at a later epoch
                self.shown = Progress("train", self.epochs * self.steps, "steps", initial=epoch * self.steps)
            self.shown.advance_to(epoch * self.steps)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if self.shown is not None:
                self.shown.update()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.shown is not None:
                self.shown.advance_to((epoch + 1) * self.steps)
                values = ", ".join(f"{k} {float(logs[k]):.4g}" for k in SHOWN_LOGS if k in (logs or {}))
                self.shown.note(f"train: epoch {epoch + 1}/{self.epochs}: {values}")

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if self.shown is not None:
                self.shown.close()

    return TrainingProgress


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
