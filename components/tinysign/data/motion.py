"""Where the sign is in a clip: the span of motion between the signer's rest before and after it.

Real clips are filmed with the signer at rest before and after the sign (fsl105-dev: ~1.6 s before,
~0.7 s after a ~1.8 s sign). The motion of a frame is the share of its pixels that changed by more than
``MOTION_LEVEL`` grey levels since the previous frame (sensor noise rarely does, moving hands do);
smoothed over ~0.2 s, it sits near zero at rest and rises far above it while the hands move. The
sign's span is the first to the last frame whose smoothed motion exceeds ``floor + RELATIVE_THRESHOLD *
(peak - floor)`` (floor: 10th percentile, peak: 95th). A clip
with no clear rest (trimmed tightly, motion throughout) spans the whole clip.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MOTION_LEVEL = 16  # grey levels: a pixel changed by more than this has moved
RELATIVE_THRESHOLD = 0.15  # of the way from the noise floor to the peak
SMOOTHING_SECONDS = 0.2
MIN_CONTRAST = 5.0  # peak / floor below this: no rest to tell apart (motion throughout or none)


class Span(NamedTuple):
    """Frames ``[start, end)`` of a clip in which the sign's motion happens."""

    start: int
    end: int


def motion_energy(frames: np.ndarray) -> np.ndarray:
    """The share of pixels of each uint8 frame ``(N, H, W)`` that moved since the previous one: ``(N,)``,
    0 for the first."""
    moved = (np.abs(np.diff(frames.astype(np.int16), axis=0)) > MOTION_LEVEL).mean(axis=(1, 2))
    return np.concatenate([[0.0], moved])


def motion_span(frames: np.ndarray, fps: float) -> Span:
    """The span of the sign's motion in a clip of grey frames ``(N, H, W)`` at ``fps`` (module docstring)."""
    count = len(frames)
    energy = motion_energy(frames)[1:]
    if count < 3:
        return Span(0, count)
    width = max(1, int(round(SMOOTHING_SECONDS * fps)))
    smooth = np.convolve(energy, np.ones(width) / width, mode="same")
    floor, peak = np.percentile(smooth, 10), np.percentile(smooth, 95)
    if peak < MIN_CONTRAST * max(floor, 1e-4):
        return Span(0, count)
    active = np.flatnonzero(smooth > floor + RELATIVE_THRESHOLD * (peak - floor))
    return Span(int(active[0]), min(count, int(active[-1]) + 2))  # energy[i] is frame i + 1's motion
