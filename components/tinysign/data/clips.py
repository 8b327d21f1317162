"""One clip -> its records, one way: plan -> decode -> augment -> record.

1. **plan** (:func:`plan_records`): which frames each record takes, at which simulated rate,
   augmented how — from the clip's probed length and frame rate, by split:

   * train: one record per FPS variant in ``fps_targets`` (:func:`fps_variant_plans`) plus
     ``augment_copies`` augmented copies (:func:`augmented_copy_plans`: a random variant of a
     trimmed window, one seeded draw within the ``augment_copy_*`` ranges);
   * val / test: one plain record at ``eval_fps`` (:func:`eval_plans`).

   A new kind of record is a new ``*_plans`` function called from :func:`plan_records`.
2. **decode** (:func:`decode_planned`): every frame is decoded, only those some plan uses are
   converted; if the container's metadata was wrong, the clip is planned again on the decoded
   length and the missing frames are decoded in a second pass.
3. **augment** (:func:`record_frames`): an augmented copy's draw applied to its frames.
4. **record** (:func:`clip_record`): a :class:`~tinysign.data.records.ClipRecord` per plan.

Plans are deterministic for a seed, so the same input gives byte-identical records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from tinysign.config import Config
from tinysign.data import storage
from tinysign.data.augment import CopyAugmentation, Ranges, augment_copy
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import Clip
from tinysign.data.records import ClipRecord
from tinysign.data.sampling import resample_indices, segment_length, trimmed_window, window_indices
from tinysign.data.video import VideoError, decode_segment

Planner = Callable[[int, float], list["RecordPlan"]]  # (frames in the segment, fps) -> plans


@dataclass(frozen=True)
class RecordPlan:
    """One record to cut from a clip: which decoded frames, at which simulated rate, augmented how."""

    indices: np.ndarray
    fps_variant: int
    augmentation: CopyAugmentation | None = None
    description: str = "none"


def extract_clip(clip: Clip, split: str, label_index: int, config: Config) -> list[ClipRecord]:
    """The records of one clip (local or remote path) of ``split``; raises VideoError."""
    plan = partial(plan_records, clip.clip_id, split, config=config)
    plans, frames = decode_planned(clip, plan, config.img_size)  # planned on the probe, then decoded
    return [clip_record(clip, split, label_index, p, record_frames(p, frames)) for p in plans]


def eval_frames(clip: Clip, config: Config) -> np.ndarray:
    """The frames a val/test record of ``clip`` holds (``eval_fps``, ``num_frames``); raises VideoError."""
    plans, frames = decode_planned(
        clip, partial(plan_records, clip.clip_id, "test", config=config), config.img_size
    )
    return record_frames(plans[0], frames)


# --- 1. plan ----------------------------------------------------------------------------------------


def plan_records(
    clip_id: str, split: str, num_source: int, src_fps: float, config: Config
) -> list[RecordPlan]:
    """The records of one clip of ``num_source`` frames at ``src_fps`` (see the module docstring)."""
    if split != "train":
        return eval_plans(num_source, src_fps, config)
    return fps_variant_plans(num_source, src_fps, config) + augmented_copy_plans(
        clip_id, num_source, src_fps, config
    )


def eval_plans(num_source: int, src_fps: float, config: Config) -> list[RecordPlan]:
    """One plain record at ``eval_fps``."""
    return [
        RecordPlan(resample_indices(num_source, src_fps, config.eval_fps, config.num_frames), config.eval_fps)
    ]


def fps_variant_plans(num_source: int, src_fps: float, config: Config) -> list[RecordPlan]:
    """One plain record per simulated frame rate in ``fps_targets``."""
    return [
        RecordPlan(resample_indices(num_source, src_fps, fps, config.num_frames), fps)
        for fps in config.fps_targets
    ]


def augmented_copy_plans(clip_id: str, num_source: int, src_fps: float, config: Config) -> list[RecordPlan]:
    """``augment_copies`` records, each a random FPS variant of a trimmed window with one draw of
    :class:`CopyAugmentation`, seeded by ``(seed, clip_id, copy)``."""
    plans = []
    for copy in range(config.augment_copies):
        rng = np.random.default_rng(stable_hash(config.seed, clip_id, copy))
        fps = int(rng.choice(config.fps_targets))
        aug = CopyAugmentation.draw(rng, Ranges(**config.copy_ranges), config.augment_flip)
        window = trimmed_window(num_source, aug.trim_start, aug.trim_end)
        indices = window_indices(window, src_fps, fps, config.num_frames)
        plans.append(RecordPlan(indices, fps, aug, f"copy{copy}:{aug.describe()}"))
    return plans


# --- 2. decode --------------------------------------------------------------------------------------


def decode_planned(
    clip: Clip, plan: Planner, img_size: int
) -> tuple[list[RecordPlan], dict[int, np.ndarray]]:
    """``(plans, {segment index: grey frame})``: the clip planned from its probed length and fps and
    the frames the plans use decoded — planned again on what decoded when the probe was wrong."""
    expected = segment_length(clip.frame_start, clip.frame_end, clip.frame_count)
    plans = plan(expected, clip.fps) if expected and clip.fps else []
    with storage.local_copy(clip.path) as local:
        decode = partial(decode_segment, local, clip.frame_start, clip.frame_end, img_size)
        frames, fps, count = decode(_used(plans) if plans else None)
        if count != expected or fps != clip.fps:  # plan again on what decoded; decode again if need be
            plans = plan(count, fps)
            if not _used(plans) <= frames.keys():
                frames, fps, count = decode(_used(plans))
    if count < 2:
        raise VideoError("too_few_frames", f"{clip.path}: only {count} decodable frame(s)")
    return plans, frames


def _used(plans: list[RecordPlan]) -> set[int]:
    return {int(i) for plan in plans for i in plan.indices}


# --- 3. augment, 4. record --------------------------------------------------------------------------


def record_frames(plan: RecordPlan, frames: dict[int, np.ndarray]) -> np.ndarray:
    """The planned frames ``(T, H, W)`` of one record, augmented when the plan is an augmented copy."""
    clip = np.stack([frames[int(i)] for i in plan.indices])
    return augment_copy(clip, plan.augmentation) if plan.augmentation else clip


def clip_record(clip: Clip, split: str, label_index: int, plan: RecordPlan, frames: np.ndarray) -> ClipRecord:
    return ClipRecord(
        frames=frames,
        label=label_index,
        label_name=clip.label,
        clip_id=clip.clip_id,
        source_video=str(clip.source_video),
        signer=str(clip.signer),
        split=split,
        fps_variant=plan.fps_variant,
        augmentation=plan.description,
    )


def shard_of(clip_id: str, config: Config) -> int:
    """The shard of its split a clip's records go to (a stable hash of the id)."""
    return stable_hash(config.seed, "shard", clip_id) % config.num_shards
