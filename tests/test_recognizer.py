"""The recognizer's arithmetic on constructed score sequences: window, threshold, suppression, silence."""

from __future__ import annotations

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.runtime.recognizer import Emission, Recognizer, RecognizerSettings, recognize

LABELS = ["hello", "thanks", "rest", "unknown"]
SCALE, ZERO = 1 / 256, -128  # a softmax head's int8 output


def scores(*probabilities: float) -> np.ndarray:
    """int8 head output for class probabilities (the rest of the mass nowhere)."""
    return np.round(np.asarray(probabilities) / SCALE + ZERO).clip(-128, 127).astype(np.int8)


def settings(window: int = 3, threshold: float = 0.6, suppression: int = 5) -> RecognizerSettings:
    config = Config(spot_window=window, spot_threshold=threshold, spot_suppression=suppression)
    return RecognizerSettings.for_head(LABELS, (SCALE, ZERO), config)


def run(sequence: list[np.ndarray], s: RecognizerSettings) -> list[Emission]:
    return recognize(s, enumerate(sequence), zero_point=ZERO)


def test_threshold_is_whole_units_of_the_head_scale():
    s = settings(threshold=0.6)
    assert s.threshold == round(0.6 * 256) and s.silent == (2, 3) and s.scale == SCALE


def test_emits_once_when_the_average_passes_the_threshold():
    rest, sign = scores(0, 0, 1, 0), scores(0.9, 0.1, 0, 0)
    emissions = run([rest] * 4 + [sign] * 6 + [rest] * 4, settings(window=3, threshold=0.6))
    assert [(e.frame, e.label) for e in emissions] == [(6, 0)]  # frames 4, 5: window not yet >= 0.6 avg
    assert emissions[0].score == pytest.approx((int(sign[0]) - ZERO) * SCALE)


def test_window_must_be_full_and_average_not_single_frames():
    spike = [scores(0.95, 0, 0, 0)] + [scores(0.2, 0, 0.8, 0)] * 3
    assert run(spike, settings(window=3, threshold=0.6)) == []  # one confident frame is not enough
    assert run([scores(0.9, 0, 0, 0)] * 2, settings(window=3)) == []  # never a full window


def test_rest_and_unknown_are_never_emitted():
    sequence = [scores(0, 0, 1, 0)] * 5 + [scores(0, 0, 0, 1)] * 5
    assert run(sequence, settings()) == []


def test_suppression_blocks_a_second_sign_too_soon_but_not_later():
    a, b = scores(0.9, 0, 0, 0), scores(0, 0.9, 0, 0)
    soon = run([a] * 3 + [b] * 4, settings(window=2, suppression=10))
    assert [e.label for e in soon] == [0]
    later = run([a] * 3 + [b] * 12, settings(window=2, suppression=10))
    assert [(e.frame, e.label) for e in later] == [(1, 0), (11, 1)]


def test_same_sign_twice_needs_a_silent_class_in_between():
    sign, rest = scores(0.9, 0, 0, 0), scores(0, 0, 0.9, 0)
    held = run([sign] * 30, settings(window=2, suppression=5))
    assert len(held) == 1  # a sign held still is said once
    twice = run([sign] * 8 + [rest] * 4 + [sign] * 8, settings(window=2, suppression=5))
    assert [e.frame for e in twice] == [1, 13]


def test_ties_go_to_the_first_class_like_the_firmware():
    tie = scores(0.45, 0.45, 0.1, 0)
    assert [e.label for e in run([tie] * 3, settings(window=3, threshold=0.4))] == [0]


def test_float_head_uses_probabilities():
    config = Config(spot_window=2, spot_threshold=0.5, spot_suppression=0)
    s = RecognizerSettings.for_head(LABELS, None, config)
    emissions = recognize(s, enumerate([np.array([0.2, 0.7, 0.1, 0.0], np.float32)] * 3))
    assert [(e.frame, e.label, round(e.score, 3)) for e in emissions] == [(1, 1, 0.7)]


def test_bad_settings_are_one_line_errors():
    with pytest.raises(TinysignError, match="window=0"):
        Recognizer(RecognizerSettings(0, 1, 0, ()))
    with pytest.raises(TinysignError, match="spot_threshold"):
        Config(spot_threshold=0)
