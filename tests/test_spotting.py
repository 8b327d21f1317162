"""Live spotting measured on streams: scoring emissions against where the signs are, and the demo model
saying every sign of a stream once and nothing at rest."""

from __future__ import annotations

import numpy as np
import pytest

from tinysign.config import Config
from tinysign.data.records import StreamRecord
from tinysign.runtime.recognizer import Emission
from tinysign.runtime.spotting import rest_stream, score_signs, sign_stream

LABELS = ["hello", "thanks", "unknown", "rest"]


def record(clip_id: str, label: str, length: int, span: tuple[int, int], value: int = 0) -> StreamRecord:
    frames = np.full((length, 8, 8), value, np.uint8)
    return StreamRecord(
        frames, LABELS.index(label), label, label if label != "unknown" else "wave", clip_id, "s1", span
    )


def test_sign_stream_keeps_each_clip_whole_in_a_seeded_order():
    clips = [record(f"c{i}", "hello", 20 + i, (5, 10), value=i) for i in range(4)]
    stream = sign_stream(clips, seed=3)
    assert stream.clips == sign_stream(clips, seed=3).clips  # deterministic
    assert len(stream.frames) == sum(len(c.frames) for c in clips)
    for clip in stream.clips:  # each clip's frames where the stream says, its span shifted with it
        original = next(c for c in clips if c.clip_id == clip.clip_id)
        np.testing.assert_array_equal(stream.frames[clip.start : clip.end], original.frames)
        assert clip.span == (clip.start + 5, clip.start + 10)


def test_emissions_are_scored_right_once_within_the_span_plus_grace():
    clips = [
        record("a", "hello", 30, (10, 20)),
        record("b", "unknown", 30, (10, 20)),
        record("c", "thanks", 30, (5, 15)),
    ]
    stream = sign_stream(clips, seed=0)
    at = {c.clip_id: c for c in stream.clips}
    emissions = [
        Emission(at["a"].span[1] + 2, 0, 0.9),  # hello, 2 ticks after its motion ended: right
        Emission(at["a"].span[1] + 3, 0, 0.9),  # said again: wrong
        Emission(at["b"].span[0] + 1, 1, 0.9),  # during an unknown sign: wrong, and it triggered
        Emission(at["c"].span[0], 0, 0.9),  # hello during thanks: wrong
        Emission(at["c"].span[1] + 20, 1, 0.9),  # thanks, long after its grace: wrong
    ]
    score = score_signs(emissions, stream, LABELS, grace=5)
    assert (score.recalled, score.vocabulary_clips, score.right, score.wrong) == (1, 2, 1, 4)
    assert score.latencies == [3] and score.recall == 0.5 and score.precision == 0.2
    assert (score.unknown_clips, score.unknown_triggered) == (1, 1)


def test_rest_stream_plays_each_clips_stillness_without_its_sign():
    clips = [record("a", "hello", 40, (20, 30), value=1), record("b", "hello", 40, (2, 38), value=2)]
    clips[0].frames[20:30] = 200  # the sign
    stream = rest_stream(clips, stream_fps=10)
    assert len(stream.frames) == 100 and not (stream.frames == 200).any()  # b has no stillness: left out


@pytest.mark.slow
def test_demo_model_says_every_sign_once_and_nothing_at_rest(demo_records, tmp_path):
    """The issue's test: a stream of demo test clips (rest included, as generated) through the INT8 pair
    and the recognizer: every vocabulary sign said once, in time; nothing on unknown signs or at rest."""
    from tinysign.evaluate import run_evaluate
    from tinysign.quantize import run_quantize
    from tinysign.train import run_train

    # the demo's easy signs: a recognizer below the default's precision-first threshold (0.9, chosen on
    # fsl105-dev's validation signers, close to the 0.9 + 0.1 / classes a label-smoothed head can reach)
    config = Config(epochs=30, spot_window=3, spot_threshold=0.75)
    run_train(demo_records, tmp_path / "train", config)
    run_quantize(tmp_path / "train", demo_records, tmp_path / "quant", config)
    spotting = run_evaluate(tmp_path / "quant", demo_records, tmp_path / "eval", config)["spotting"]
    assert spotting["vocabulary_clips"] >= 8 and spotting["recall"] == 1.0 and spotting["precision"] == 1.0
    assert spotting["rest_false_emissions"] == 0 and spotting["rest_minutes"] > 1
    assert spotting["unknown_triggered"] == 0 and spotting["latency_p90_s"] <= 0.5
    assert (tmp_path / "eval" / "spotting_timeline.png").stat().st_size > 10_000
