"""Shared fixtures: small real inputs made on the fly (no binaries in the repo)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

if TYPE_CHECKING:
    from tinysign.config import Config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"
WLASL_SAMPLE = SHARED / "data" / "wlasl-sample"
FSL105 = SHARED / "data" / "fsl105-dev"  # real: 30 signs x 4 signers x 5 takes
needs_fsl105 = pytest.mark.skipif(not FSL105.exists(), reason="shared fsl105-dev set not present")


def pattern_clip(label: int, rng: np.random.Generator, num_frames: int, img_size: int) -> np.ndarray:
    """A learnable uint8 clip: a bright square moving in a class-specific direction."""
    frames = rng.integers(0, 40, (num_frames, img_size, img_size), dtype=np.uint8)
    angle = 2 * np.pi * label / 8
    for t in range(num_frames):
        r = (t / max(1, num_frames - 1) - 0.5) * img_size * 0.6
        x = int(img_size / 2 + r * np.cos(angle))
        y = int(img_size / 2 + r * np.sin(angle))
        frames[t, max(0, y - 4) : y + 4, max(0, x - 4) : x + 4] = 230
    return frames


def write_pattern_records(
    out: Path,
    num_classes: int = 3,
    per_split: dict[str, int] | None = None,
    num_frames: int = 24,
    img_size: int = 64,
    seed: int = 0,
) -> Path:
    """A records folder in the extraction format (schema.json + shards), no video needed."""
    from tinysign.data import records

    per_split = per_split or {"train": 8, "val": 3, "test": 3}
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels = [f"gloss{i}" for i in range(num_classes)]
    for split, per_class in per_split.items():
        with open(out / records.shard_name(split, 0, 1), "wb") as stream:
            for label in range(num_classes):
                for k in range(per_class):
                    clip = records.ClipRecord(
                        frames=pattern_clip(label, rng, num_frames, img_size),
                        label=label,
                        label_name=labels[label],
                        clip_id=f"{split}-{label}-{k}",
                        source_video=f"v{split}{label}{k}",
                        signer=f"s{k % 3}",
                        split=split,
                        fps_variant=30,
                    )
                    records.write_tfrecord(stream, records.serialize(clip))
    records.write_schema(out, labels, num_frames, img_size)
    return out


@pytest.fixture
def pattern_records(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``pattern_records(num_classes=3, per_split=..., num_frames=24, img_size=64)``."""
    counter = iter(range(1000))

    def make(**kwargs: object) -> Path:
        return write_pattern_records(tmp_path / f"records{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def no_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the env.sh variables set (every field of ``CloudEnv``), as on a fresh machine."""
    import dataclasses

    from tinysign.ops.env import CloudEnv

    for field in dataclasses.fields(CloudEnv):
        monkeypatch.delenv(field.name.upper(), raising=False)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic demo dataset (generated once per test session)."""
    from tinysign.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("demo") / "data", progress=False)


@pytest.fixture(scope="session")
def demo_ingest(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest output folder of the demo dataset with default config."""
    from tinysign.config import Config
    from tinysign.ingest import run_ingest

    out = tmp_path_factory.mktemp("ingest")
    run_ingest([str(demo_data)], out, Config(), progress=False)
    return out


@dataclass(frozen=True)
class Extracted:
    """A set ingested and extracted once per session: both output folders, the config they were made
    with and the extraction's metrics."""

    ingest: Path
    records: Path
    config: Config
    metrics: dict[str, Any]


@pytest.fixture(scope="session")
def fsl105_extracted(tmp_path_factory: pytest.TempPathFactory) -> Extracted:
    """fsl105-dev ingested with a signer split (s3 validates, s4 tests) and extracted in-process, one
    plain record per clip (generated once per test session; skipped when the set is absent)."""
    from tinysign.config import Config
    from tinysign.extract import run_extract
    from tinysign.ingest import run_ingest

    if not FSL105.exists():
        pytest.skip("shared fsl105-dev set not present")
    config = Config(
        split_mode="signer", test_signers=("s4",), val_signers=("s3",), augment_copies=0, fps_targets=(30,)
    )
    root = tmp_path_factory.mktemp("fsl105")
    run_ingest([str(FSL105)], root / "ingest", config, progress=False)
    metrics = run_extract(root / "ingest" / "manifest.jsonl", root / "records", config)
    return Extracted(root / "ingest", root / "records", config, metrics)


@pytest.fixture(scope="session")
def demo_records(demo_ingest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Extracted TFRecords of the demo dataset (default config, 2 shards)."""
    from tinysign.config import Config
    from tinysign.extract import run_extract

    out = tmp_path_factory.mktemp("records")
    run_extract(demo_ingest / "manifest.jsonl", out, Config())
    return out
