"""Frame-index arithmetic: which frames of a decoded segment a clip of ``num_frames`` uses.

Pure functions over frame counts and rates, no decoding: the 1-based segment of a video
(``frame_start``/``frame_end``), FPS simulation (resample to a target rate, then take
``num_frames`` evenly across the sign) and temporal windows inside a segment (trimming).
"""

from __future__ import annotations

import numpy as np


def segment_length(frame_start: int, frame_end: int, frame_count: int) -> int:
    """Frames in the 1-based inclusive segment of a ``frame_count``-frame video (-1 = to the end)."""
    end = frame_count if frame_end == -1 else min(frame_end, frame_count)
    return max(0, end - frame_start + 1)


def resample_indices(num_source: int, src_fps: float, target_fps: float, num_frames: int) -> np.ndarray:
    """Indices into the source frames for one FPS-simulated clip of ``num_frames``.

    The clip is first resampled to ``target_fps`` (a 10 fps variant holds each frame longer, a 50 fps
    one repeats none), then ``num_frames`` are taken evenly across the whole sign.
    """
    duration = num_source / src_fps
    resampled = max(1, round(duration * target_fps))
    at_target = np.minimum(num_source - 1, np.floor(np.arange(resampled) * src_fps / target_fps))
    picks = np.round(np.linspace(0, resampled - 1, num_frames)).astype(int)
    return at_target[picks].astype(int)


def sample_clip(frames: np.ndarray, src_fps: float, target_fps: float, num_frames: int) -> np.ndarray:
    """FPS-simulated clip: uint8 ``(num_frames, H, W)`` from decoded ``frames`` (N, H, W)."""
    return frames[resample_indices(len(frames), src_fps, target_fps, num_frames)]


def trimmed_window(count: int, trim_start: float, trim_end: float) -> tuple[int, int]:
    """``[start, end)`` of ``count`` frames without the fractions ``trim_start`` and ``trim_end`` at
    its ends; the whole segment when fewer than 2 frames would remain."""
    start = int(count * trim_start)
    end = count - int(count * trim_end)
    return (start, end) if end - start >= 2 else (0, count)


def window_indices(window: tuple[int, int], src_fps: float, target_fps: float, num_frames: int) -> np.ndarray:
    """:func:`resample_indices` inside the frames ``[start, end)`` of a segment."""
    start, end = window
    return start + resample_indices(end - start, src_fps, target_fps, num_frames)


# --- streams: what a device sees at its own frame rate ---------------------------------------------


def stream_ticks(
    num_source: int, src_fps: float, stream_fps: float, camera_fps: float | None = None
) -> np.ndarray:
    """The source frame a device running at ``stream_fps`` sees at each of its ticks over a whole segment.

    Tick ``k`` happens at ``k / stream_fps`` seconds; a camera delivering ``camera_fps`` frames a second
    (default: the source's own rate — a lower rate simulates a slower camera) has shown its latest frame,
    which is source frame ``floor(time * src_fps)`` of that camera frame's time.
    """
    camera_fps = camera_fps or src_fps
    count = max(1, int(np.floor(num_source / src_fps * stream_fps + 1e-9)))
    shown = np.floor(np.arange(count) / stream_fps * camera_fps + 1e-9) / camera_fps
    return np.minimum(num_source - 1, np.floor(shown * src_fps + 1e-9)).astype(int)


def window_ending(ticks: np.ndarray, end: int, num_frames: int) -> np.ndarray:
    """The ``num_frames`` ticks up to and including tick ``end`` (the ring buffer then); before the first
    tick and after the last the stream holds still (the nearest tick repeats)."""
    positions = np.clip(np.arange(end - num_frames + 1, end + 1), 0, len(ticks) - 1)
    return ticks[positions]


def ping_pong(positions: np.ndarray, num_frames: int, start: int = 0) -> np.ndarray:
    """``num_frames`` of ``positions`` played forwards and backwards from ``start`` (a short still
    stretch made long enough for a window without a jump)."""
    cycle = np.concatenate([positions, positions[-2:0:-1]]) if len(positions) > 2 else positions
    return cycle[(start + np.arange(num_frames)) % len(cycle)]
