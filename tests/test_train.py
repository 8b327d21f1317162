"""Training stage: outputs, learning, resume after SIGKILL, two-worker training; metrics and plots."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.data import records
from tinysign.data.frontend import front_end
from tinysign.errors import TinysignError
from tinysign.model.architectures import load_model, split_streaming
from tinysign.reporting.metrics import classification_outputs
from tinysign.reporting.plots import plot_distribution, plot_history
from tinysign.train import run_train

TINY = Config(img_size=16, num_frames=8, batch_size=8, epochs=3, patience=100)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LEARN_EPOCHS = 20  # enough for every seed to learn the pattern (10 learned it on half of them)


def _tiny_records(pattern_records) -> Path:
    return pattern_records(
        num_classes=3, per_split={"train": 8, "val": 3, "test": 3}, num_frames=8, img_size=16
    )


def _is_png(path: str | Path) -> bool:
    data = Path(path).read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 2000


def test_classification_outputs_writes_report_and_confusion_matrix(tmp_path):
    labels = ["a", "b", "c", "d", "e", "f"]
    y_true = np.array([0, 1, 2, 3, 4, 5, 0, 1])
    probs = np.full((8, 6), 0.01)
    probs[np.arange(8), [0, 1, 2, 3, 4, 0, 1, 1]] = 0.9  # two top-1 mistakes
    probs[6, 0] = 0.05  # true class 0 is 2nd for clip 6 -> top-5 hit
    probs[5, 5] = 0.001  # true class 5 is last for clip 5 -> top-5 miss
    result = classification_outputs(y_true, None, probs, labels, tmp_path / "r", prefix="float")
    assert result["accuracy"] == 6 / 8 and result["top5_accuracy"] == 7 / 8 and result["top_k"] == 5
    matrix = np.load(result["confusion_matrix_npy"])
    assert matrix.shape == (6, 6) and matrix.sum() == 8 and matrix[5, 0] == 1 and matrix[0, 1] == 1
    assert _is_png(tmp_path / "r" / "float_confusion_matrix.png")
    with open(tmp_path / "r" / "float_classification_report.csv") as stream:
        rows = {row["label"]: row for row in csv.DictReader(stream)}
    assert rows["b"]["support"] == "2" and float(rows["b"]["precision"]) == pytest.approx(2 / 3, abs=1e-4)
    assert float(rows["accuracy"]["f1-score"]) == 0.75 and "macro avg" in rows
    with pytest.raises(TinysignError, match="expected"):
        classification_outputs(y_true, None, probs[:, :5], labels, tmp_path, prefix="int8")


def test_plots_write_pngs(tmp_path):
    history = {
        "loss": [1.2, 0.8, 0.5],
        "val_loss": [1.3, 0.9, 0.7],
        "accuracy": [0.3, 0.6, 0.8],
        "val_accuracy": [0.2, 0.5, 0.7],
    }
    assert _is_png(plot_history(history, tmp_path / "h.png"))
    counts = {"train": [5, 3, 4], "val": [1, 1, 2], "test": [1, 0, 1]}
    assert _is_png(plot_distribution(counts, ["x", "y", "z"], tmp_path / "d.png"))


def _tensorboard_scalars(folder) -> set[str]:
    """The scalar tags written to the event files in ``folder`` (one value per epoch each)."""
    import tensorflow as tf

    tags: Counter[str] = Counter()
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return {tag for tag, count in tags.items() if count == LEARN_EPOCHS}


@pytest.mark.parametrize("name", ["s3dconv1d", "streaming"])
def test_run_train_writes_every_output_and_learns(pattern_records, tmp_path, name):
    rec = _tiny_records(pattern_records)
    out = tmp_path / "train"
    result = run_train(rec, out, TINY.replace(model=name, epochs=LEARN_EPOCHS))
    for file in (
        "model.keras",
        "best.keras",
        "labels.txt",
        "history.json",
        "metrics.json",
        "float_classification_report.csv",
        "float_confusion_matrix.npy",
    ):
        assert (out / file).is_file(), file
    for png in ("training_curves.png", "distribution.png", "float_confusion_matrix.png"):
        assert _is_png(out / png), png
    assert not (out / "backup").exists()  # a completed run leaves nothing to resume
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics == result
        and metrics["epochs_run"] == LEARN_EPOCHS
        and 1 <= metrics["best_epoch"] <= LEARN_EPOCHS
    )
    assert (
        metrics["params"] > 0
        and metrics["macs"] > 0
        and metrics["examples"] == {"train": 24, "val": 9, "test": 9}
    )
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == list(range(LEARN_EPOCHS)) and len(history["val_loss"]) == LEARN_EPOCHS
    # the default schedule: linear warm-up over 5 epochs to learning_rate, then cosine decay to 0
    rates = history["learning_rate"]
    assert rates[:5] == sorted(rates[:5]) and rates[4] == pytest.approx(TINY.learning_rate)
    assert rates[4:] == sorted(rates[4:], reverse=True) and rates[-1] == pytest.approx(0.0, abs=1e-9)
    # TensorBoard event files: loss, accuracy and learning rate per epoch, for train and validation
    assert _tensorboard_scalars(out / "tensorboard" / "train") >= {
        "epoch_loss",
        "epoch_accuracy",
        "epoch_learning_rate",
    }
    assert _tensorboard_scalars(out / "tensorboard" / "validation") >= {"epoch_loss", "epoch_accuracy"}
    assert (out / "labels.txt").read_text().split() == ["gloss0", "gloss1", "gloss2"]
    assert metrics["test_accuracy"] >= 2 / 3  # chance is 1/3; the pattern is easy to learn
    # model.keras holds the best epoch's weights and reproduces the reported test accuracy
    model = load_model(out / "model.keras")
    frames, labels, _ = records.load_arrays(rec, "test")
    inputs = np.stack([front_end(clip, "diff", 2) for clip in frames])[..., np.newaxis]
    accuracy = float(np.mean(model.predict(inputs, verbose=0).argmax(1) == labels))
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    if name == "streaming":
        frame, head = split_streaming(model)
        assert frame.output_shape == (1, TINY.frame_filters[-1]) and head.output_shape == (1, 3)


def test_stale_backup_from_another_run_is_discarded(pattern_records, tmp_path, capsys):
    rec = _tiny_records(pattern_records)
    out = tmp_path / "train"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "checkpoint").write_text("from another run")
    result = run_train(rec, out, TINY.replace(epochs=1))
    assert "starting afresh" in capsys.readouterr().out
    assert result["resumed_from_epoch"] == 0 and result["epochs_run"] == 1


def test_mirrored_strategy_trains(pattern_records, tmp_path):
    config = TINY.replace(epochs=1, strategy="mirrored")
    result = run_train(_tiny_records(pattern_records), tmp_path / "m", config)
    assert result["strategy"] == "mirrored" and result["num_replicas"] >= 1 and result["epochs_run"] == 1


def test_missing_or_empty_records_are_one_line_errors(pattern_records, tmp_path):
    with pytest.raises(TinysignError, match="tinysign extract"):
        run_train(tmp_path / "nothing", tmp_path / "out", TINY)
    rec = pattern_records(num_classes=2, per_split={"val": 1, "test": 1}, num_frames=8, img_size=16)
    with pytest.raises(TinysignError, match="the train split in .* has no clips; re-run `tinysign ingest`"):
        run_train(rec, tmp_path / "out", TINY)
    rec = pattern_records(num_classes=2, per_split={"train": 2, "test": 1}, num_frames=8, img_size=16)
    with pytest.raises(TinysignError, match="the val split in .* has no clips"):
        run_train(rec, tmp_path / "out", TINY)


def test_without_val_clips_training_runs_unvalidated_and_says_so(pattern_records, tmp_path, capsys):
    """Ingest leaves val empty rather than take a sign out of training (one training clip per sign):
    train then watches the training loss and keeps the last epoch."""
    rec = pattern_records(num_classes=2, per_split={"train": 2, "test": 1}, num_frames=8, img_size=16)
    result = run_train(rec, tmp_path / "out", TINY.replace(epochs=2, patience=0))
    assert "without validation" in capsys.readouterr().out
    assert result["monitor"] == "loss" and result["best_val_accuracy"] is None and result["epochs_run"] == 2
    assert result["best_epoch"] == 2 and (tmp_path / "out" / "labels.txt").exists()


def _train_command(rec: Path, out: Path, *overrides: str) -> list[str]:
    sets = [f"--set={o}" for o in ("batch_size=8", "patience=100", *overrides)]
    return [sys.executable, "-m", "tinysign.cli", "train", "--records", str(rec), "--out", str(out), *sets]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_from_last_completed_epoch(pattern_records, tmp_path):
    rec = _tiny_records(pattern_records)
    out = tmp_path / "train"
    command = _train_command(rec, out, "epochs=6")
    first = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env()
    )
    seen = []
    for line in first.stderr:  # type: ignore[union-attr]  # the progress lines of a log
        seen.append(line)
        if line.startswith("train: epoch 2/6"):  # shown once epoch 2 is finished and backed up
            first.send_signal(signal.SIGKILL)
            break
    assert first.wait(timeout=60) == -signal.SIGKILL, "".join(seen)
    assert (out / "backup").is_dir() and not (out / "metrics.json").exists()

    second = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    epochs = [line.split()[2][:-1] for line in second.stderr.splitlines() if line.startswith("train: epoch ")]
    assert "resuming" in second.stdout and epochs[0] in ("3/6", "4/6") and epochs[-1] == "6/6"
    history = json.loads((out / "history.json").read_text())
    assert history["epoch"] == list(range(6))  # every epoch once, none repeated from 0
    assert len(set(history["pid"])) == 2 and history["pid"][0] == first.pid
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 6 and metrics["resumed_from_epoch"] in (2, 3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_two_workers_train_together_and_agree(pattern_records, tmp_path):
    rec = _tiny_records(pattern_records)
    out = tmp_path / "train"  # shared by both workers, as a /gcs mount is on Vertex
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        log = open(tmp_path / f"worker{index}.log", "w")  # closed after wait() below
        workers.append(
            (
                subprocess.Popen(
                    _train_command(rec, out, "epochs=2", "strategy=multiworker"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_env(TF_CONFIG=tf_config),
                ),
                log,
            )
        )
    for index, (process, log) in enumerate(workers):
        code = process.wait(timeout=150)
        log.close()
        assert code == 0, (tmp_path / f"worker{index}.log").read_text()[-3000:]
    chief = json.loads((out / "metrics.json").read_text())
    other = json.loads((out / "workers" / "worker-1" / "metrics.json").read_text())
    assert chief["num_replicas"] == other["num_replicas"] == 2 and chief["epochs_run"] == 2
    assert chief["test_accuracy"] == other["test_accuracy"]
    chief_weights = load_model(out / "model.keras").get_weights()
    other_weights = load_model(out / "workers" / "worker-1" / "model.keras").get_weights()
    for a, b in zip(chief_weights, other_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
