"""Probing: does each found clip decode, how many frames has its segment, at which frame rate.

Run on every clip a dataset reader found (:mod:`tinysign.data.datasets`); a clip that cannot be used
becomes a drop-report row with its reason, a usable one carries its probed fps and frame count
(extraction plans its records from them).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from tinysign.config import Config
from tinysign.console import progress as progress_of
from tinysign.data import storage
from tinysign.data.manifest import Clip, Drop, Found
from tinysign.data.sampling import segment_length
from tinysign.data.video import VideoError, probe


def _probe_clip(clip: Clip, min_frames: int) -> Clip | Drop:
    try:
        with storage.local_copy(clip.path) as local:
            info = probe(local)
    except VideoError as exc:
        return Drop(clip.clip_id, clip.label, clip.path, exc.reason, exc.detail)
    except OSError as exc:
        return Drop(clip.clip_id, clip.label, clip.path, "unreadable", f"{clip.path}: {exc.strerror or exc}")
    if clip.frame_start > info.frame_count:
        return Drop(
            clip.clip_id,
            clip.label,
            clip.path,
            "segment_out_of_range",
            f"frame_start {clip.frame_start} > {info.frame_count} frames in the video",
        )
    length = segment_length(clip.frame_start, clip.frame_end, info.frame_count)
    if length < min_frames:
        return Drop(
            clip.clip_id,
            clip.label,
            clip.path,
            "too_few_frames",
            f"{length} frames in the segment, need >= {min_frames} (min_clip_frames)",
        )
    return replace(clip, fps=info.fps, frame_count=info.frame_count, width=info.width, height=info.height)


def probe_clips(clips: list[Clip], config: Config, progress: bool = True) -> Found:
    """Probe every clip in parallel threads (OpenCV releases the GIL)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            progress_of(
                pool.map(lambda c: _probe_clip(c, config.min_clip_frames), clips),
                "ingest: probe",
                "clips",
                total=len(clips),
                enabled=progress,
            )
        )
    return [r for r in results if isinstance(r, Clip)], [r for r in results if isinstance(r, Drop)]
