"""Per-clip extraction: which frames each record of a clip uses, and the records themselves.

A training clip gives one record per FPS variant in ``fps_targets`` plus ``augment_copies``
augmented records (random variant, affine + brightness/contrast + temporal jitter; flip only if
``augment_flip``); a val/test clip gives one plain record at ``eval_fps``. Plans are deterministic
for a seed, so the same input gives byte-identical records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinysign.config import Config
from tinysign.data import records, storage
from tinysign.data.hashing import stable_hash
from tinysign.data.video import (
    Augmentation,
    VideoError,
    augment_clip,
    decode_segment,
    resample_indices,
    segment_length,
    trim_bounds,
)


@dataclass(frozen=True)
class RecordPlan:
    """One record to cut from a clip: which decoded frames, at which simulated rate, augmented how."""

    indices: np.ndarray
    fps_variant: int
    augmentation: Augmentation | None = None
    description: str = "none"


def plan_records(
    clip_id: str, split: str, num_source: int, src_fps: float, config: Config
) -> list[RecordPlan]:
    """The records of one clip (see module docstring); deterministic for a given seed."""
    if split != "train":
        return [
            RecordPlan(
                resample_indices(num_source, src_fps, config.eval_fps, config.num_frames), config.eval_fps
            )
        ]
    plans = [
        RecordPlan(resample_indices(num_source, src_fps, v, config.num_frames), v) for v in config.fps_targets
    ]
    for copy in range(config.augment_copies):
        rng = np.random.default_rng(stable_hash(config.seed, clip_id, copy))
        variant = int(rng.choice(config.fps_targets))
        aug = Augmentation.draw(rng, config.augment_flip)
        start, end = trim_bounds(num_source, aug)
        indices = start + resample_indices(end - start, src_fps, variant, config.num_frames)
        plans.append(RecordPlan(indices, variant, aug, f"copy{copy}:{aug.describe()}"))
    return plans


def extract_clip(row: dict[str, Any], config: Config) -> list[records.ClipRecord]:
    """Decode one manifest row (local or remote path) into its records; raises VideoError.

    Frames are planned from the probed length and fps, so only the frames some record uses are
    converted; if the container's metadata was wrong, the clip is planned again on the decoded
    length and the missing frames are decoded in a second pass.
    """
    start, end = int(row["frame_start"]), int(row["frame_end"])
    expected = segment_length(start, end, int(row.get("frame_count", 0)))
    src_fps = float(row.get("fps", 0))
    plans = (
        plan_records(row["clip_id"], row["split"], expected, src_fps, config) if expected and src_fps else []
    )
    with storage.local_copy(row["path"]) as local:
        keep = {int(i) for plan in plans for i in plan.indices}
        frames, fps, count = decode_segment(local, start, end, config.img_size, keep if plans else None)
        if count != expected or fps != src_fps:  # plan again on what decoded; decode again if need be
            plans = plan_records(row["clip_id"], row["split"], count, fps, config)
            needed = {int(i) for plan in plans for i in plan.indices}
            if not needed <= frames.keys():
                frames, fps, count = decode_segment(local, start, end, config.img_size, needed)
    if count < 2:
        raise VideoError("too_few_frames", f"{row['path']}: only {count} decodable frame(s)")

    def record(plan: RecordPlan) -> records.ClipRecord:
        clip = np.stack([frames[int(i)] for i in plan.indices])
        return records.ClipRecord(
            frames=augment_clip(clip, plan.augmentation) if plan.augmentation else clip,
            label=int(row["label_index"]),
            label_name=row["label"],
            clip_id=row["clip_id"],
            source_video=str(row.get("source_video", "")),
            signer=str(row.get("signer", "")),
            split=row["split"],
            fps_variant=plan.fps_variant,
            augmentation=plan.description,
        )

    return [record(plan) for plan in plans]


def shard_of(clip_id: str, config: Config) -> int:
    return stable_hash(config.seed, "shard", clip_id) % config.num_shards
