"""Probing: does each found clip decode, how many frames has its segment, at which frame rate.

Run on every clip a dataset reader found (:mod:`tinysign.data.datasets`); a clip that cannot be used
becomes a drop-report row with its reason, a usable one carries its probed fps and frame count
(extraction plans its records from them). A video larger than the config's limits is dropped from its
container's header before any decoding (``too_large``), and the parallel probes share a memory budget.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

from tinysign.config import Config
from tinysign.console import progress as progress_of
from tinysign.data import storage
from tinysign.data.manifest import Clip, Drop, Found
from tinysign.data.sampling import segment_length
from tinysign.data.video import Limits, VideoError, probe

PROBE_THREADS = 4
PROBE_MEMORY = 1 << 30  # bytes of decoding the parallel probes may hold at once (less if less is free)


class MemoryBudget:
    """At most ``total`` bytes reserved at once by threads; a reservation waits until enough is free
    (one larger than the whole budget waits until it is alone)."""

    def __init__(self, total: int) -> None:
        self.total = self.free = total
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        amount = min(amount, self.total)
        with self._changed:
            self._changed.wait_for(lambda: self.free >= amount)
            self.free -= amount
        try:
            yield
        finally:
            with self._changed:
                self.free += amount
                self._changed.notify_all()


def _available_memory() -> int:
    """Bytes of memory the system can still give (``MemAvailable``), or :data:`PROBE_MEMORY`."""
    try:
        with open("/proc/meminfo") as stream:
            fields = dict(line.split(":", 1) for line in stream)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return PROBE_MEMORY


def _probe_clip(clip: Clip, config: Config, budget: MemoryBudget) -> Clip | Drop:
    try:
        with storage.local_copy(clip.path) as local:
            info = probe(local, Limits.of(config), budget.reserve)
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
    if length < config.min_clip_frames:
        return Drop(
            clip.clip_id,
            clip.label,
            clip.path,
            "too_few_frames",
            f"{length} frames in the segment, need >= {config.min_clip_frames} (min_clip_frames)",
        )
    return replace(clip, fps=info.fps, frame_count=info.frame_count, width=info.width, height=info.height)


def probe_clips(clips: list[Clip], config: Config, progress: bool = True) -> Found:
    """Probe every clip in parallel threads (OpenCV releases the GIL): at most :data:`PROBE_THREADS`,
    and together at most :data:`PROBE_MEMORY` bytes of decoding (half the free memory if less)."""
    budget = MemoryBudget(min(PROBE_MEMORY, _available_memory() // 2))
    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        results = list(
            progress_of(
                pool.map(lambda c: _probe_clip(c, config, budget), clips),
                "ingest: probe",
                "clips",
                total=len(clips),
                enabled=progress,
            )
        )
    return [r for r in results if isinstance(r, Clip)], [r for r in results if isinstance(r, Drop)]
