"""Where the sign is: the motion span between the signer's rest before and after it."""

from __future__ import annotations

import numpy as np

from tinysign.data.motion import motion_span


def clip_with_motion(before: int, moving: int, after: int, seed: int = 0) -> np.ndarray:
    """A noisy still scene with a bright square moving during ``moving`` frames in between."""
    rng = np.random.default_rng(seed)
    frames = np.clip(rng.normal(60, 2, (before + moving + after, 64, 64)), 0, 255).astype(np.uint8)
    for k in range(before + moving + after):
        x = 4 + (3 * min(max(k - before, 0), moving)) % 48
        frames[k, 26:38, x : x + 12] = 230
    return frames


def test_span_covers_the_motion_not_the_rest():
    span = motion_span(clip_with_motion(30, 20, 15), fps=30)
    assert abs(span.start - 30) <= 4 and abs(span.end - 50) <= 4  # smoothing: +-0.1 s


def test_motion_throughout_or_none_spans_the_whole_clip():
    assert motion_span(clip_with_motion(0, 60, 0), fps=30) == (0, 60)
    still = clip_with_motion(40, 0, 0)
    assert motion_span(still, fps=30) == (0, 40)
    assert motion_span(still[:2], fps=30) == (0, 2)
