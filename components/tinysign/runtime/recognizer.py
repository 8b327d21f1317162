"""The recognizer: per-frame head scores -> a sign said once when it is signed, silence otherwise.

Shaped like TensorFlow's speech-commands ``RecognizeCommands`` (and the C++ class older tflite-micro
``micro_speech`` versions carried): the head scores every stream frame; the recognizer sums each
class's score over the last ``window`` frames and, once the window is full, looks at the class with the
largest sum (the first one on a tie). It emits that class when

* its average score reaches the detection threshold (``sum >= threshold * window``),
* it is not a silent class (``rest``, ``unknown``: trained, never said),
* it differs from the previous top class that passed the threshold (a sign held still is said once),
* and at least ``suppression`` frames have passed since the last emission.

A silent class that passes the threshold becomes the previous top class without emitting, so the same
sign signed twice with a rest in between is said twice.

The arithmetic is integer for an int8 head, exactly as the firmware does it (``firmware/src``): a score
counts as ``q - zero_point`` (a probability of ``(q - zero_point) * scale``) and the threshold is the
whole number of those units nearest to ``threshold / scale``. A float head's scores are probabilities.
One implementation serves ``predict``, ``predict --camera``, the stream evaluation and the pipeline.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from tinysign.config import SILENT_LABELS, Config
from tinysign.errors import TinysignError
from tinysign.runtime.litert import QParams


@dataclass(frozen=True)
class RecognizerSettings:
    """The recognizer's parameters in the head's own units (see the module docstring).

    Attributes:
        window: frames whose scores are summed.
        threshold: the least average score to emit, in score units (int8: ``q - zero_point``).
        suppression: frames after an emission during which nothing else is emitted.
        silent: class indices never emitted (``rest``, ``unknown``).
        scale: a score unit as a probability (1 for a float head).
    """

    window: int
    threshold: float
    suppression: int
    silent: tuple[int, ...]
    scale: float = 1.0

    @classmethod
    def for_head(cls, labels: Sequence[str], output_qparams: QParams, config: Config) -> RecognizerSettings:
        """Settings for a head with ``labels`` and output quantization ``output_qparams`` (``None``:
        float probabilities) from the config's ``spot_window``, ``spot_threshold``, ``spot_suppression``."""
        silent = tuple(i for i, label in enumerate(labels) if label in SILENT_LABELS)
        scale = 1.0 if output_qparams is None else output_qparams[0]
        settings = cls(config.spot_window, 0, config.spot_suppression, silent, scale)
        return settings.with_threshold(config.spot_threshold)

    def with_threshold(self, probability: float) -> RecognizerSettings:
        """The same settings with the detection threshold ``probability`` (the whole number of score
        units nearest to it for an int8 head)."""
        units = probability if self.scale == 1.0 else int(round(probability / self.scale))
        return replace(self, threshold=units)


@dataclass(frozen=True)
class Emission:
    """A sign said: the stream frame whose head scores triggered it, the class and its averaged score."""

    frame: int
    label: int
    score: float  # the class's average score over the window, as a probability


class Recognizer:
    """Per-frame scores in, emissions out (see the module docstring); one per stream."""

    def __init__(self, settings: RecognizerSettings, zero_point: int = 0) -> None:
        if settings.window < 1 or settings.suppression < 0:
            raise TinysignError(
                f"recognizer: window={settings.window} must be >= 1 and suppression="
                f"{settings.suppression} >= 0"
            )
        self.settings, self.zero_point = settings, zero_point
        self.reset()

    def reset(self) -> None:
        self.scores: deque[np.ndarray] = deque()
        self.sums: np.ndarray | None = None
        self.previous: int | None = None
        self.last_emission: int | None = None

    def push(self, frame: int, raw: np.ndarray) -> Emission | None:
        """The head's raw output for stream frame ``frame``; an :class:`Emission` or ``None``."""
        units = np.asarray(raw).reshape(-1)
        units = units.astype(np.int64) - self.zero_point if units.dtype.kind in "iu" else units.astype(float)
        self.sums = units.copy() if self.sums is None else self.sums + units
        self.scores.append(units)
        if len(self.scores) > self.settings.window:
            self.sums -= self.scores.popleft()
        if len(self.scores) < self.settings.window:
            return None
        top = int(np.argmax(self.sums))
        if self.sums[top] < self.settings.threshold * self.settings.window or top == self.previous:
            return None
        if top in self.settings.silent:
            self.previous = top
            return None
        if self.last_emission is not None and frame - self.last_emission < self.settings.suppression:
            return None
        self.previous, self.last_emission = top, frame
        return Emission(frame, top, float(self.sums[top]) * self.settings.scale / self.settings.window)


def recognize(
    settings: RecognizerSettings, outputs: Iterable[tuple[int, np.ndarray]], zero_point: int = 0
) -> list[Emission]:
    """Every emission of a stream of ``(frame, raw head output)``."""
    recognizer = Recognizer(settings, zero_point)
    return [e for frame, raw in outputs if (e := recognizer.push(frame, raw)) is not None]
