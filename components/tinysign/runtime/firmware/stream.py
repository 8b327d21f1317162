"""The camera stream the firmware plays under QEMU: any sequence of frames, with its clips marked.

The firmware's frame provider plays :attr:`Stream.frames` one after another as a camera would; nothing
assumes clips of a fixed length. :func:`select_stream` makes one from a few test clips back to back: whole
clips as a device streams them (the signer at rest before and after the sign, at ``stream_fps``) when the
extraction kept them as stream records, else the test windows; any other sequence of frames is just
another :class:`Stream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinysign.data import records
from tinysign.errors import TinysignError


@dataclass(frozen=True)
class Stream:
    """Frames ``(N, H, W)`` uint8 in playing order and the clips they come from.

    Attributes:
        frames: the stream.
        starts: the first stream frame of each clip (ascending, ``starts[0] == 0``).
        labels: each clip's class index.
        clip_ids: each clip's id.
        spans: each clip's sign as stream frames ``[start, end)``, when known.
    """

    frames: np.ndarray
    starts: tuple[int, ...]
    labels: tuple[int, ...]
    clip_ids: tuple[str, ...]
    spans: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.frames.ndim != 3 or self.frames.dtype != np.uint8 or not len(self.frames):
            raise TinysignError(
                f"a stream is (N, H, W) uint8 frames, got {self.frames.dtype} {self.frames.shape}"
            )
        ascending = all(a < b for a, b in zip(self.starts, self.starts[1:], strict=False))
        if not self.starts or self.starts[0] != 0 or not ascending or self.starts[-1] >= len(self.frames):
            raise TinysignError(
                f"stream clip starts {self.starts} must ascend from 0 within {len(self.frames)}"
            )
        if not len(self.starts) == len(self.labels) == len(self.clip_ids):
            raise TinysignError("a stream needs one label and one clip id per clip start")

    def clip(self, index: int) -> np.ndarray:
        """The frames of clip ``index``."""
        return self.frames[self.starts[index] : self.ends[index] + 1]

    @property
    def ends(self) -> tuple[int, ...]:
        """The last stream frame of each clip."""
        return tuple(end - 1 for end in (*self.starts[1:], len(self.frames)))


def select_stream(records_dir: str | Path, count: int) -> Stream:
    """``count`` test clips back to back (distinct labels first), as one stream: the stream records (whole
    clips with their sign's span) when the extraction kept them, else the test windows."""
    if count < 1:
        raise TinysignError(f"a stream needs at least one clip, got {count}")
    whole = records.has_streams(records_dir, "test")
    clips = (records.iter_stream_records if whole else records.iter_records)(records_dir, "test")
    chosen: list[records.ClipRecord | records.StreamRecord] = []
    others: list[records.ClipRecord | records.StreamRecord] = []
    for record in clips:
        (chosen if record.label not in {r.label for r in chosen} else others).append(record)
        if len(chosen) >= count:
            break
    chosen = (chosen + others)[:count]
    if not chosen:
        raise TinysignError(records.empty_split_message(records_dir, "test"))
    starts = [int(s) for s in np.cumsum([0] + [len(r.frames) for r in chosen[:-1]])]
    spans = [
        (start + r.span[0], start + r.span[1])
        for start, r in zip(starts, chosen, strict=True)
        if isinstance(r, records.StreamRecord)
    ]
    return Stream(
        np.concatenate([r.frames for r in chosen]),
        tuple(starts),
        tuple(r.label for r in chosen),
        tuple(r.clip_id for r in chosen),
        tuple(spans) if whole else None,
    )
