"""Trivial baselines a useful model must beat: majority class, raw-pixel and motion 1-nearest-neighbour.

Both 1-NN baselines compare clips by cosine similarity on small grey clips (``FEATURE_SIZE`` pixels
square, every frame): raw pixels see appearance (who signs, the background), frame differences
see motion (the sign). Features are computed one record at a time, so the training split is never
held in memory as full-size clips.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import cv2
import numpy as np

from tinysign.data.records import ClipRecord

FEATURE_SIZE = 32
REFERENCES_PER_CLASS = 50  # 1-NN references: one record per clip, at most this many clips per class
BASELINES = ("majority", "nearest_neighbour", "motion_nn")
FEATURES = {
    "nearest_neighbour": "raw pixels, cosine 1-NN on the train split",
    "motion_nn": "absolute frame differences, cosine 1-NN on the train split",
}


def clip_features(frames: np.ndarray) -> dict[str, np.ndarray]:
    """L2-normalised float16 feature vectors of one uint8 clip ``(T, H, W)``: raw pixels and motion."""
    small = np.stack(
        [cv2.resize(f, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA) for f in frames]
    )
    small = small.astype(np.float32)
    raw = small - small.mean()  # cosine on centred pixels: brightness offsets do not dominate
    motion = np.abs(np.diff(small, axis=0))
    return {"nearest_neighbour": _unit(raw), "motion_nn": _unit(motion)}


def _unit(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(-1)
    return (flat / max(float(np.linalg.norm(flat)), 1e-6)).astype(np.float16)


class FeatureBank:
    """Feature vectors and labels of many clips, added one at a time."""

    def __init__(self) -> None:
        self.features: dict[str, list[np.ndarray]] = {name: [] for name in FEATURES}
        self.labels: list[int] = []

    def add(self, frames: np.ndarray, label: int) -> None:
        for name, vector in clip_features(frames).items():
            self.features[name].append(vector)
        self.labels.append(label)

    def add_records(self, records: Iterable[ClipRecord], per_label: int | None = None) -> FeatureBank:
        """Add records; with ``per_label``, only the first record of a clip and at most that many clips
        of a class (the reference set then stays the same size however large the split grows)."""
        seen: set[str] = set()
        clips: Counter[int] = Counter()
        for record in records:
            if per_label is not None:
                if record.clip_id in seen or clips[record.label] >= per_label:
                    continue
                seen.add(record.clip_id)
                clips[record.label] += 1
            self.add(record.frames, record.label)
        return self

    def matrix(self, name: str) -> np.ndarray:
        return np.stack(self.features[name]).astype(np.float32)


class TrivialBaselines:
    """Majority class and the two 1-NN baselines fitted on ``train``; test clips are scored one at a
    time (:meth:`score`), so the test split is never held in memory."""

    def __init__(self, train: FeatureBank) -> None:
        self.train_labels = np.asarray(train.labels)
        self.majority = int(np.bincount(train.labels).argmax())
        self.references = {name: train.matrix(name) for name in FEATURES}
        self.hits: Counter[str] = Counter()
        self.count = 0

    def score(self, frames: np.ndarray, label: int) -> None:
        """Count the hits of every baseline on one test clip ``(T, H, W)``."""
        self.count += 1
        self.hits["majority"] += int(label == self.majority)
        for name, vector in clip_features(frames).items():
            nearest = int(np.argmax(self.references[name] @ vector.astype(np.float32)))
            self.hits[name] += int(self.train_labels[nearest] == label)

    def results(self) -> dict[str, dict[str, object]]:
        """``{"majority": {"accuracy", "class"}, "nearest_neighbour": {"accuracy", "features"},
        "motion_nn": {...}}`` over the clips scored so far."""
        accuracy = {name: self.hits[name] / max(self.count, 1) for name in BASELINES}
        results: dict[str, dict[str, object]] = {
            "majority": {"accuracy": accuracy["majority"], "class": self.majority}
        }
        for name, description in FEATURES.items():
            results[name] = {"accuracy": accuracy[name], "features": description}
        return results


def strongest(baselines: dict[str, dict[str, object]]) -> tuple[str, float]:
    """The name and accuracy of the strongest baseline."""
    name = max(baselines, key=lambda n: float(baselines[n]["accuracy"]))  # type: ignore[arg-type]
    return name, float(baselines[name]["accuracy"])  # type: ignore[arg-type]
