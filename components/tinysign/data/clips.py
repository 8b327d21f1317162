"""One clip -> its records, one way: plan -> decode -> find the sign -> cut windows -> augment -> record.

A device runs its frame model on ``stream_fps`` camera frames a second and its head sees the last
``num_frames`` of them (the ring buffer: 2.4 s at 10 fps). Records are such windows, cut where a device
would see them:

1. **plan** (:func:`plan_ticks`): the clip as a device streams it — the source frame at each tick, for
   each simulated camera (``eval_fps``, and for training every rate of ``fps_targets``);
2. **decode** (:func:`decode_planned`): the frames some tick uses (planned again on what decoded when
   the container's metadata was wrong);
3. **find the sign** (:func:`tinysign.data.motion.motion_span`): the ticks in which the hands move, between
   the signer's rest before and after;
4. **cut windows** (:func:`window_plans`): train — per camera rate a window ending at a different moment
   around the end of the sign (``TRAIN_END_OFFSETS``), ``augment_copies`` augmented copies, and a window
   of the signer at rest (``rest``, when ``rest_class``); val/test — the window ending just after the
   sign (``EVAL_END_OFFSET``) and a rest window; a new kind of record is a new ``*_plans`` function;
5. **augment** (:func:`record_frames`) and **record** (:func:`clip_record`); val/test clips are also
   kept whole as a :class:`~tinysign.data.records.StreamRecord` for the stream evaluation.

Plans are deterministic for a seed, so the same input gives byte-identical records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from tinysign.config import REST_LABEL, UNKNOWN_LABEL, Config
from tinysign.data import storage
from tinysign.data.augment import CopyAugmentation, Ranges, augment_copy
from tinysign.data.filming import Film, as_filmed
from tinysign.data.hashing import stable_hash
from tinysign.data.manifest import Clip
from tinysign.data.motion import Span, motion_span
from tinysign.data.records import ClipRecord, StreamRecord
from tinysign.data.sampling import ping_pong, segment_length, stream_ticks, window_ending
from tinysign.data.video import VideoError, decode_segment

# Seconds after the last moving tick at which training windows end, one per camera rate of
# fps_targets (in turn): the head learns a sign from just before the hands are down to well after, the
# moments at which the recognizer decides.
TRAIN_END_OFFSETS = (-0.2, 0.1, 0.4, 0.7)
EVAL_END_OFFSET = 0.2  # the moment a val/test window shows
REST_MARGIN = 0.2  # seconds kept clear of the sign on either side of a rest window
MIN_REST = 0.4  # seconds of stillness needed to cut a rest window

Planner = Callable[[int, float], list["RecordPlan"]]  # (frames in the segment, fps) -> plans


@dataclass(frozen=True)
class RecordPlan:
    """Which decoded frames a record (or a camera's stream of the clip) takes, at which camera rate."""

    indices: np.ndarray
    fps_variant: int
    augmentation: CopyAugmentation | None = None
    description: str = "none"
    label: str = ""  # the record's class when not the clip's own (``rest``)


@dataclass(frozen=True)
class ExtractedClip:
    """A clip's training/evaluation windows and (val/test) the whole clip as a stream."""

    records: list[ClipRecord]
    stream: StreamRecord | None


def extract_clip(clip: Clip, split: str, classes: list[str], config: Config) -> ExtractedClip:
    """The records of one clip (local or remote path) of ``split``; ``classes`` is the schema's label
    list (the clip's ``label`` and ``rest`` among them). Raises VideoError."""
    cameras, frames = decode_planned(clip, partial(plan_ticks, split, config=config), config.img_size)
    span = find_sign(cameras[0], frames, config)
    plans = window_plans(clip, split, cameras, span, config)
    records = [clip_record(clip, split, classes, p, record_frames(p, frames)) for p in plans]
    stream = None
    if split != "train":
        stream = stream_record(clip, split, classes, record_frames(cameras[0], frames), span)
    return ExtractedClip(records, stream)


def sign_frames(clip: Clip, config: Config) -> np.ndarray:
    """The frames of the window a val/test record of ``clip`` holds (its sign, ``eval_fps``)."""
    return sign_windows(clip, config, {"": as_filmed})[""]


def sign_windows(clip: Clip, config: Config, films: Mapping[str, Film]) -> dict[str, np.ndarray]:
    """The val/test window of ``clip`` as each camera of ``films`` would have filmed it: the clip is
    decoded once, every :data:`~tinysign.data.filming.Film` transforms its decoded frames (before the
    front end, as a camera would), and the window is cut where the sign is in the clip as filmed by
    its own camera (the sign's place in time is the same whatever the camera)."""
    cameras, frames = decode_planned(clip, partial(plan_ticks, "test", config=config), config.img_size)
    span = find_sign(cameras[0], frames, config)
    window = sign_window(cameras[0], span, EVAL_END_OFFSET, config)
    order = sorted(frames)
    decoded = np.stack([frames[i] for i in order])
    return {
        name: record_frames(window, dict(zip(order, film(decoded), strict=True)))
        for name, film in films.items()
    }


# --- 1. plan ----------------------------------------------------------------------------------------


def plan_ticks(split: str, num_source: int, src_fps: float, config: Config) -> list[RecordPlan]:
    """The clip streamed at ``stream_fps`` by each simulated camera: ``eval_fps`` first, then (train)
    every rate of ``fps_targets``."""
    rates = [config.eval_fps, *(config.fps_targets if split == "train" else ())]
    return [RecordPlan(stream_ticks(num_source, src_fps, config.stream_fps, rate), rate) for rate in rates]


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


# --- 3. find the sign, 4. cut windows ---------------------------------------------------------------


def find_sign(camera: RecordPlan, frames: dict[int, np.ndarray], config: Config) -> Span:
    """The ticks ``[start, end)`` of the sign's motion in one camera's stream of the clip."""
    return motion_span(record_frames(camera, frames), config.stream_fps)


def window_plans(
    clip: Clip, split: str, cameras: list[RecordPlan], span: Span, config: Config
) -> list[RecordPlan]:
    """The windows of a clip (see the module docstring)."""
    if split != "train":
        return [
            sign_window(cameras[0], span, EVAL_END_OFFSET, config),
            *rest_plans(clip, cameras[:1], span, config),
        ]
    variants = cameras[1:]
    if clip.label == UNKNOWN_LABEL:  # pooled from several signs: half as many windows per clip
        variants = variants[::2]
    plans = [
        sign_window(camera, span, TRAIN_END_OFFSETS[i % len(TRAIN_END_OFFSETS)], config)
        for i, camera in enumerate(variants)
    ]
    return (
        plans
        + augmented_copy_plans(clip, cameras[1:], span, config)
        + rest_plans(clip, cameras[1:], span, config)
    )


def sign_window(camera: RecordPlan, span: Span, offset: float, config: Config) -> RecordPlan:
    """The ``num_frames`` ticks ending ``offset`` seconds after the last tick of the sign's motion."""
    end = span.end - 1 + round(offset * config.stream_fps)
    return RecordPlan(window_ending(camera.indices, end, config.num_frames), camera.fps_variant)


def augmented_copy_plans(
    clip: Clip, cameras: list[RecordPlan], span: Span, config: Config
) -> list[RecordPlan]:
    """``augment_copies`` windows, each one camera's training window moved by the draw's trims (a
    fraction of the window's length earlier or later) with one draw of :class:`CopyAugmentation`,
    seeded by ``(seed, clip_id, copy)``."""
    plans = []
    for copy in range(config.augment_copies):
        rng = np.random.default_rng(stable_hash(config.seed, clip.clip_id, copy))
        which = int(rng.integers(len(cameras)))
        aug = CopyAugmentation.draw(rng, Ranges(**config.copy_ranges), config.augment_flip)
        moved = (aug.trim_end - aug.trim_start) * config.num_frames / config.stream_fps
        offset = TRAIN_END_OFFSETS[which % len(TRAIN_END_OFFSETS)] + moved
        window = sign_window(cameras[which], span, offset, config)
        plans.append(RecordPlan(window.indices, window.fps_variant, aug, f"copy{copy}:{aug.describe()}"))
    return plans


def rest_plans(clip: Clip, cameras: list[RecordPlan], span: Span, config: Config) -> list[RecordPlan]:
    """One window of the signer at rest (``rest_class``): the longer still stretch before or after the
    sign (``REST_MARGIN`` clear of it, at least ``MIN_REST`` long), played forwards and backwards to fill
    the window, from a random camera and starting point (seeded by the clip id); none without such a
    stretch."""
    if not config.rest_class:
        return []
    margin, ticks = round(REST_MARGIN * config.stream_fps), len(cameras[0].indices)
    before, after = np.arange(0, span.start - margin), np.arange(span.end + margin, ticks)
    still = before if len(before) >= len(after) else after
    if len(still) < MIN_REST * config.stream_fps:
        return []
    rng = np.random.default_rng(stable_hash(config.seed, clip.clip_id, REST_LABEL))
    camera = cameras[int(rng.integers(len(cameras)))]
    positions = ping_pong(still, config.num_frames, int(rng.integers(len(still))))
    return [
        RecordPlan(camera.indices[positions], camera.fps_variant, description=REST_LABEL, label=REST_LABEL)
    ]


# --- 5. augment, record -----------------------------------------------------------------------------


def record_frames(plan: RecordPlan, frames: dict[int, np.ndarray]) -> np.ndarray:
    """The planned frames ``(N, H, W)`` of one plan, augmented when the plan is an augmented copy."""
    clip = np.stack([frames[int(i)] for i in plan.indices])
    return augment_copy(clip, plan.augmentation) if plan.augmentation else clip


def clip_record(
    clip: Clip, split: str, classes: list[str], plan: RecordPlan, frames: np.ndarray
) -> ClipRecord:
    label = plan.label or clip.label
    return ClipRecord(
        frames=frames,
        label=classes.index(label),
        label_name=label,
        clip_id=clip.clip_id,
        source_video=str(clip.source_video),
        signer=str(clip.signer),
        split=split,
        fps_variant=plan.fps_variant,
        augmentation=plan.description if plan.augmentation else "none",
    )


def stream_record(clip: Clip, split: str, classes: list[str], frames: np.ndarray, span: Span) -> StreamRecord:
    return StreamRecord(
        frames=frames,
        label=classes.index(clip.label),
        label_name=clip.label,
        sign=clip.sign or clip.label,
        clip_id=clip.clip_id,
        signer=str(clip.signer),
        span=(span.start, span.end),
    )


def shard_of(clip_id: str, config: Config) -> int:
    """The shard of its split a clip's records go to (a stable hash of the id)."""
    return stable_hash(config.seed, "shard", clip_id) % config.num_shards
