"""Video decoding: probe a file, decode a segment (or a live source) to grey squares.

OpenCV does the decoding; every frame leaves as a centre-cropped, grey ``img_size`` square
(:func:`to_grey_square`). Which frames a clip uses is :mod:`tinysign.data.sampling`'s business,
how they are augmented :mod:`tinysign.data.augment`'s.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")
DEFAULT_FPS = 25.0
MAX_SANE_FPS = 240.0
FAST_CROP_FACTOR = 8


class VideoError(Exception):
    """A clip that cannot be used; ``reason`` is a drop-report code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a video file."""

    frame_count: int
    fps: float
    width: int
    height: int


def _open(path: str) -> cv2.VideoCapture:
    if not os.path.exists(path):
        broken = os.path.islink(path)
        raise VideoError(
            "missing_file", f"{path} is a broken symlink" if broken else f"{path} does not exist"
        )
    if not os.access(path, os.R_OK):
        raise VideoError("unreadable", f"{path} is not readable (permissions)")
    if os.path.getsize(path) == 0:
        raise VideoError("undecodable", f"{path} is empty (0 bytes)")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise VideoError("undecodable", f"OpenCV cannot open {path} (not a video or unknown codec)")
    return capture


def _fps(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if fps and math.isfinite(fps) and 0 < fps <= MAX_SANE_FPS else DEFAULT_FPS


def probe(path: str) -> VideoInfo:
    """Open ``path``, decode its first frame and read its properties (raises VideoError)."""
    capture = _open(path)
    try:
        ok, frame = capture.read()
        if not ok or frame is None:
            raise VideoError("undecodable", f"{path}: no decodable frame")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:  # some containers (webm) carry no frame count: count by decoding
            count = 1
            while capture.grab():
                count += 1
        return VideoInfo(count, _fps(capture), frame.shape[1], frame.shape[0])
    finally:
        capture.release()


def to_grey_square(frame: np.ndarray, img_size: int) -> np.ndarray:
    """BGR frame -> centre square crop -> grey -> ``img_size`` x ``img_size`` uint8 (area average).

    Large frames are cropped to a multiple of ``img_size`` (losing < 1/8 of the side) so OpenCV's
    integer-factor area resize applies: ~6x faster on 1080p than a fractional one.
    """
    height, width = frame.shape[:2]
    side = min(height, width)
    if side >= FAST_CROP_FACTOR * img_size:
        side -= side % img_size
    top, left = (height - side) // 2, (width - side) // 2
    square = frame[top : top + side, left : left + side]
    grey = cv2.cvtColor(square, cv2.COLOR_BGR2GRAY) if square.ndim == 3 else square
    return cv2.resize(grey, (img_size, img_size), interpolation=cv2.INTER_AREA)


def decode_segment(
    path: str, frame_start: int = 1, frame_end: int = -1, img_size: int = 64, keep: set[int] | None = None
) -> tuple[dict[int, np.ndarray], float, int]:
    """Decode the segment ``frame_start..frame_end`` (1-based, inclusive; -1 = to the end).

    Every frame is decoded, but only those whose segment index is in ``keep`` (all when None) are
    converted to grey ``img_size`` squares — converting is most of the cost beyond decoding.
    Returns ``({segment index: uint8 (img_size, img_size)}, fps, frames in the segment)``.
    """
    capture = _open(path)
    try:
        fps = _fps(capture)
        for _ in range(max(0, frame_start - 1)):
            if not capture.grab():
                raise VideoError(
                    "segment_out_of_range", f"{path}: frame_start {frame_start} is past the end of the video"
                )
        frames: dict[int, np.ndarray] = {}
        count = 0
        while frame_end == -1 or count <= frame_end - frame_start:
            if not capture.grab():
                break
            if keep is None or count in keep:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    break
                frames[count] = to_grey_square(frame, img_size)
            count += 1
    finally:
        capture.release()
    if count == 0:
        raise VideoError("undecodable", f"{path}: no frame could be decoded in the segment")
    return frames, fps, count


def read_frames(
    path: str, frame_start: int = 1, frame_end: int = -1, img_size: int = 64
) -> tuple[np.ndarray, float]:
    """All frames of the segment: ``(uint8 (N, img_size, img_size), fps)``; raises VideoError."""
    frames, fps, count = decode_segment(path, frame_start, frame_end, img_size)
    return np.stack([frames[i] for i in range(count)]), fps


def open_source(source: str | int) -> cv2.VideoCapture:
    """A camera (device index), a stream URL (``rtsp://`` …) or a video file, opened with OpenCV."""
    if isinstance(source, str) and "://" not in source:
        return _open(source)
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise VideoError("undecodable", f"OpenCV cannot open {source!r} (no such camera or stream)")
    return capture


def stream_frames(source: str | int, img_size: int, target_fps: float) -> Iterator[np.ndarray]:
    """Grey ``img_size`` squares of a video source as they arrive, resampled to ``target_fps``.

    Each output tick ``k`` shows the latest frame at time ``k / target_fps``: the frame arrival time
    on a live source (camera, stream), the frame's position in a file. For a file this is exactly
    the sequence :func:`tinysign.data.sampling.sample_clip` gives at ``target_fps`` for the whole
    video, so a live feed and a recorded one go through the same code.
    """
    capture = open_source(source)
    live = isinstance(source, int) or "://" in str(source)
    src_fps = _fps(capture)
    started = time.monotonic()
    latest: np.ndarray | None = None
    tick = count = 0
    try:
        while capture.grab():
            now = time.monotonic() - started if live else count / src_fps
            while latest is not None and tick < now * target_fps - 1e-9:  # ticks before this frame
                yield latest
                tick += 1
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                break
            latest, count = to_grey_square(frame, img_size), count + 1
    finally:
        capture.release()
    if latest is not None and not live:  # the ticks of the last frame: the clip lasts count / src_fps
        for _ in range(tick, max(1, round(count / src_fps * target_fps))):
            yield latest
