"""Live spotting measured like keyword spotting: long streams of real clips, scored against where the
signs are (the shape of TensorFlow's speech-commands ``test_streaming_accuracy.py``).

* **Sign stream**: whole clips, as filmed (the signer at rest before and after each sign), one after
  the other in a seeded random order. A clip of a vocabulary sign is *recalled* when its sign is said
  within its span plus a grace; that first emission is *right*; every other emission (a second one, a
  wrong sign, anything said during a clip of an unknown sign) is *wrong*. Precision = right / all.
  Latency = the right emission's time minus the end of the sign's motion.
* **Rest stream**: the still stretch around each clip's sign, played forwards and backwards for
  ``REST_SECONDS`` each: anything said there is a false emission (counted per minute).
* **Unknown signs**: the share of clips of signs outside the vocabulary during which anything is said.

Head outputs are computed once per stream; the recognizer (:mod:`tinysign.runtime.recognizer`) then
runs for every threshold of the precision-recall curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinysign.config import REST_LABEL, UNKNOWN_LABEL
from tinysign.console import progress
from tinysign.data.records import StreamRecord
from tinysign.data.sampling import ping_pong
from tinysign.runtime.recognizer import Emission, RecognizerSettings, recognize
from tinysign.runtime.streaming import StreamingClassifier
from tinysign.summaries import SpottingSummary

GRACE_SECONDS = 1.0  # after the sign's motion ends, a right emission may still come
REST_SECONDS = 10.0  # of each clip's stillness in the rest stream
REST_MARGIN_SECONDS = 0.2
CURVE_THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(2, 20))  # 0.10 ... 0.95


@dataclass(frozen=True)
class StreamClip:
    """One clip inside a stream: its ticks ``[start, end)`` and its sign's ``span`` (stream ticks)."""

    clip_id: str
    label: str  # class: a vocabulary sign, or unknown
    sign: str
    start: int
    end: int
    span: tuple[int, int]


@dataclass(frozen=True)
class Stream:
    frames: np.ndarray  # uint8 (N, H, W)
    clips: list[StreamClip]

    def clip_at(self, tick: int) -> StreamClip | None:
        return next((c for c in self.clips if c.start <= tick < c.end), None)


def sign_stream(records: Sequence[StreamRecord], seed: int) -> Stream:
    """The clips as filmed, one after the other in a seeded random order."""
    order = np.random.default_rng(seed).permutation(len(records))
    frames, clips, tick = [], [], 0
    for index in order:
        record = records[int(index)]
        frames.append(record.frames)
        span = (tick + record.span[0], tick + record.span[1])
        clips.append(
            StreamClip(record.clip_id, record.label_name, record.sign, tick, tick + len(record.frames), span)
        )
        tick += len(record.frames)
    return Stream(np.concatenate(frames), clips)


def rest_stream(records: Sequence[StreamRecord], stream_fps: int) -> Stream:
    """Each clip's longer still stretch (before or after its sign) played forwards and backwards for
    ``REST_SECONDS``; clips without half a second of stillness are left out."""
    margin, length = round(REST_MARGIN_SECONDS * stream_fps), round(REST_SECONDS * stream_fps)
    pieces = []
    for record in records:
        before = np.arange(0, record.span[0] - margin)
        after = np.arange(record.span[1] + margin, len(record.frames))
        still = before if len(before) >= len(after) else after
        if len(still) >= stream_fps // 2:
            pieces.append(record.frames[ping_pong(still, length)])
    if not pieces:
        return Stream(np.zeros((0, *records[0].frames.shape[1:]), np.uint8), [])
    return Stream(np.concatenate(pieces), [])


def head_outputs(
    classifier: StreamingClassifier, frames: Sequence[np.ndarray], what: str = "spotting"
) -> list[tuple[int, np.ndarray]]:
    """``(tick, raw head output)`` for every tick once the ring buffer is full, from a fresh stream."""
    classifier.reset()
    outputs = []
    for tick, frame in enumerate(progress(frames, what, "frames")):
        raw = classifier.push(frame)
        if raw is not None:
            outputs.append((tick, raw.reshape(-1)))
    return outputs


@dataclass(frozen=True)
class SignScore:
    """The recognizer on a sign stream."""

    recalled: int
    vocabulary_clips: int
    right: int
    wrong: int
    latencies: list[int]  # ticks from the end of the sign's motion to its right emission
    unknown_clips: int
    unknown_triggered: int  # unknown-sign clips during which anything was said

    @property
    def recall(self) -> float:
        return self.recalled / max(1, self.vocabulary_clips)

    @property
    def precision(self) -> float | None:
        return self.right / (self.right + self.wrong) if self.right + self.wrong else None

    @property
    def unknown_rate(self) -> float | None:
        """The share of unknown-sign clips during which anything was said."""
        return self.unknown_triggered / self.unknown_clips if self.unknown_clips else None

    def __add__(self, other: SignScore) -> SignScore:
        """Two streams' scores pooled: counts added, latencies joined."""
        return SignScore(
            self.recalled + other.recalled,
            self.vocabulary_clips + other.vocabulary_clips,
            self.right + other.right,
            self.wrong + other.wrong,
            self.latencies + other.latencies,
            self.unknown_clips + other.unknown_clips,
            self.unknown_triggered + other.unknown_triggered,
        )


def score_signs(emissions: list[Emission], stream: Stream, labels: Sequence[str], grace: int) -> SignScore:
    """Match emissions to the clips of a sign stream (see the module docstring)."""
    recalled: set[str] = set()
    latencies, wrong, triggered = [], 0, set()
    for emission in emissions:
        clip = stream.clip_at(emission.frame)
        owner = next(
            (
                c
                for c in stream.clips
                if c.span[0] <= emission.frame <= c.span[1] + grace and c.label != UNKNOWN_LABEL
            ),
            None,
        )
        if clip is not None and clip.label == UNKNOWN_LABEL:
            triggered.add(clip.clip_id)
        if owner is not None and owner.label == labels[emission.label] and owner.clip_id not in recalled:
            recalled.add(owner.clip_id)
            latencies.append(emission.frame - (owner.span[1] - 1))
        else:
            wrong += 1
    vocabulary = [c for c in stream.clips if c.label not in (UNKNOWN_LABEL, REST_LABEL)]
    unknown = [c for c in stream.clips if c.label == UNKNOWN_LABEL]
    return SignScore(
        len(recalled), len(vocabulary), len(recalled), wrong, latencies, len(unknown), len(triggered)
    )


def curve(
    outputs: list[tuple[int, np.ndarray]],
    stream: Stream,
    labels: Sequence[str],
    settings: RecognizerSettings,
    zero_point: int,
    grace: int,
    thresholds: Sequence[float] = CURVE_THRESHOLDS,
) -> list[tuple[float, SignScore]]:
    """The sign stream scored at every detection threshold (probabilities; ``settings`` otherwise)."""
    points = []
    for threshold in thresholds:
        emissions = recognize(settings.with_threshold(threshold), outputs, zero_point)
        points.append((threshold, score_signs(emissions, stream, labels, grace)))
    return points


@dataclass(frozen=True)
class Timeline:
    """The first ``seconds`` of a sign stream: each tick's window-averaged class probabilities."""

    ticks: np.ndarray  # (K,)
    averaged: np.ndarray  # (K, classes) probabilities
    clips: list[StreamClip]
    emissions: list[Emission]


@dataclass(frozen=True)
class SpottingResult:
    signs: SignScore  # at the configured threshold
    rest_minutes: float
    rest_emissions: int
    points: list[tuple[float, SignScore]]  # the precision-recall curve over CURVE_THRESHOLDS
    timeline: Timeline


def evaluate_streams(
    classifier: StreamingClassifier,
    records: Sequence[StreamRecord],
    labels: Sequence[str],
    settings: RecognizerSettings,
    zero_point: int,
    stream_fps: int,
    seed: int,
    timeline_seconds: float = 60.0,
) -> SpottingResult:
    """The whole stream protocol (module docstring) on the stream records of one split."""
    grace = round(GRACE_SECONDS * stream_fps)
    signs = sign_stream(records, seed)
    outputs = head_outputs(classifier, signs.frames, "evaluate: sign stream")
    emissions = recognize(settings, outputs, zero_point)
    rest = rest_stream(records, stream_fps)
    rest_emissions = recognize(
        settings, head_outputs(classifier, rest.frames, "evaluate: rest stream"), zero_point
    )
    horizon = round(timeline_seconds * stream_fps)
    shown = [(tick, raw) for tick, raw in outputs if tick < horizon]
    return SpottingResult(
        signs=score_signs(emissions, signs, labels, grace),
        rest_minutes=len(rest.frames) / stream_fps / 60,
        rest_emissions=len(rest_emissions),
        points=curve(outputs, signs, labels, settings, zero_point, grace),
        timeline=Timeline(
            ticks=np.array([tick for tick, _ in shown]),
            averaged=averaged_scores([raw for _, raw in shown], settings, zero_point),
            clips=[c for c in signs.clips if c.start < horizon],
            emissions=[e for e in emissions if e.frame < horizon],
        ),
    )


def averaged_scores(raws: Sequence[np.ndarray], settings: RecognizerSettings, zero_point: int) -> np.ndarray:
    """What the recognizer compares with its threshold, as probabilities: each class's score averaged
    over the last ``window`` outputs (fewer at the start)."""
    if not raws:
        return np.zeros((0, 0))
    units = np.stack(raws).astype(np.float64) - (zero_point if np.asarray(raws[0]).dtype.kind in "iu" else 0)
    sums = np.cumsum(units, axis=0)
    sums[settings.window :] -= sums[: -settings.window]
    counts = np.minimum(np.arange(1, len(units) + 1), settings.window)[:, np.newaxis]
    return sums / counts * settings.scale


PROTOCOL = (
    "test clips as filmed, one after the other in a seeded order; a vocabulary sign said within its span "
    f"+ {GRACE_SECONDS:g} s is right once, anything else said is wrong; rest stream: each clip's stillness "
    f"for {REST_SECONDS:g} s"
)


def summarise(
    result: SpottingResult, settings: RecognizerSettings, config_threshold: float, stream_fps: int
) -> SpottingSummary:
    """The typed summary of one :func:`evaluate_streams` (plots are added by the caller)."""
    signs = result.signs
    seconds = np.array(signs.latencies, dtype=float) / stream_fps
    return {
        "protocol": PROTOCOL,
        "stream_fps": stream_fps,
        "window": settings.window,
        "threshold": config_threshold,
        "suppression": settings.suppression,
        "vocabulary_clips": signs.vocabulary_clips,
        "recalled": signs.recalled,
        "recall": signs.recall,
        "emissions": signs.right + signs.wrong,
        "wrong_emissions": signs.wrong,
        "precision": signs.precision,
        "latency_median_s": float(np.median(seconds)) if seconds.size else None,
        "latency_p90_s": float(np.percentile(seconds, 90)) if seconds.size else None,
        "rest_minutes": result.rest_minutes,
        "rest_false_emissions": result.rest_emissions,
        "false_per_minute": result.rest_emissions / result.rest_minutes if result.rest_minutes else None,
        "unknown_clips": signs.unknown_clips,
        "unknown_triggered": signs.unknown_triggered,
        "unknown_trigger_rate": signs.unknown_rate,
        "curve": [
            {
                "threshold": threshold,
                "precision": point.precision,
                "recall": point.recall,
                "unknown_trigger_rate": point.unknown_rate,
            }
            for threshold, point in result.points
        ],
        "curve_png": "",
        "timeline_png": "",
    }


def timeline_marks(
    timeline: Timeline, labels: Sequence[str], stream_fps: int
) -> tuple[np.ndarray, list[tuple[float, float, str]], list[tuple[float, str, bool]]]:
    """A timeline in seconds for a plot: output times, ``(start, end, sign)`` of each clip's sign and
    ``(time, label, right?)`` of each emission (right: the sign of the clip whose span + grace holds it)."""
    grace = round(GRACE_SECONDS * stream_fps)
    spans = [(c.span[0] / stream_fps, c.span[1] / stream_fps, c.sign) for c in timeline.clips]
    marks = []
    for emission in timeline.emissions:
        owner = next((c for c in timeline.clips if c.span[0] <= emission.frame <= c.span[1] + grace), None)
        right = owner is not None and owner.label == labels[emission.label]
        marks.append((emission.frame / stream_fps, labels[emission.label], right))
    return timeline.ticks / stream_fps, spans, marks
