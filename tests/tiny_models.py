"""Tiny trained and quantized models, built once per test session (shared by the quantize,
evaluate, mcu and predict tests): records -> ``tinysign train`` -> ``tinysign quantize``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_pattern_records
from tinysign.config import Config
from tinysign.quantize import run_quantize

SMALL = Config(
    num_frames=8,
    img_size=16,
    feature_dim=16,
    epochs=2,
    batch_size=8,
    calibration_samples=12,
    qat_epochs=1,
    lr_schedule="constant",  # two epochs: no room for a warm-up and a decay
    learning_rate=1e-3,
)
KINDS = ("s3dconv1d", "streaming")
PER_SPLIT = {"train": 6, "val": 2, "test": 2}


def _cached(factory: pytest.TempPathFactory, name: str) -> tuple[Path, bool]:
    """``(folder under the session's base temp, already built?)``."""
    path = factory.getbasetemp() / "quant-cache" / name
    return path, (path / ".done").exists()


def shared_records(factory: pytest.TempPathFactory) -> Path:
    """3 classes, 6/2/2 clips per class, 8 frames of 16x16 (session cache)."""
    path, done = _cached(factory, "records")
    if not done:
        write_pattern_records(path, num_classes=3, per_split=PER_SPLIT, num_frames=8, img_size=16)
        (path / ".done").touch()
    return path


def trained_model(factory: pytest.TempPathFactory, kind: str) -> Path:
    """``tinysign train`` output (2 epochs) for ``kind`` (session cache)."""
    from tinysign.train import run_train

    path, done = _cached(factory, f"train-{kind}")
    if not done:
        run_train(shared_records(factory), path, SMALL.replace(model=kind))
        (path / ".done").touch()
    return path


def quantized_model(factory: pytest.TempPathFactory, kind: str, method: str = "ptq") -> Path:
    """``tinysign quantize`` output for ``kind`` / ``method`` (session cache)."""
    path, done = _cached(factory, f"quant-{kind}-{method}")
    if not done:
        run_quantize(
            trained_model(factory, kind),
            shared_records(factory),
            path,
            SMALL.replace(model=kind, quantization=method),
        )
        (path / ".done").touch()
    return path
