"""A deterministic synthetic sign dataset in the WLASL-processed layout.

Each gloss is a distinct hand-motion pattern (one or two bright "hands" moving over a torso and a
head); each synthetic signer has its own background texture, body scale, position, speed, frame
rate and resolution, and every repetition jitters amplitude, phase and noise. The result is small
enough to generate in seconds and learnable, so ``make run`` shows the whole pipeline without a
download. It also exercises the drop report: one gloss has too few clips, one is over the class cap
and one listed video is missing.

Layout written under ``out``::

    videos/<video_id>.mp4   WLASL_v0.3.json   nslt_100.json   missing.txt   wlasl_class_list.txt
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tinysign.artifacts import WLASL_METADATA, WLASL_MISSING
from tinysign.config import Config
from tinysign.console import progress as progress_of
from tinysign.data.manifest import SYNTHETIC_SOURCE
from tinysign.errors import TinysignError

Point = tuple[float, float]
# A gloss maps phase p in [0, 1] to hand centres in normalised image coordinates.
Trajectory = Callable[[float], list[Point]]

TRAJECTORIES: dict[str, Trajectory] = {
    "hello": lambda p: [(0.56 + 0.18 * p, 0.26 - 0.04 * p)],
    "thanks": lambda p: [(0.5, 0.36 + 0.28 * p)],
    "yes": lambda p: [(0.62, 0.52 + 0.08 * math.sin(4 * math.pi * p))],
    "no": lambda p: [(0.6 + 0.07 * math.sin(6 * math.pi * p), 0.34)],
    "please": lambda p: [(0.5 + 0.1 * math.cos(4 * math.pi * p), 0.58 + 0.1 * math.sin(4 * math.pi * p))],
    "sorry": lambda p: [(0.36 + 0.05 * math.sin(8 * math.pi * p), 0.6 - 0.2 * p)],
    "help": lambda p: [(0.5, 0.74 - 0.3 * p), (0.5, 0.82 - 0.3 * p)],
    "more": lambda p: [
        (0.5 - 0.16 * abs(math.cos(3 * math.pi * p)), 0.52),
        (0.5 + 0.16 * abs(math.cos(3 * math.pi * p)), 0.52),
    ],
    "wave": lambda p: [(0.7 + 0.08 * math.sin(6 * math.pi * p), 0.15)],
}
# Hand radius multiplier per gloss ("thanks" comes towards the camera: grows over time).
HAND_GROWTH = {"thanks": 0.8}
NUM_SIGNERS = 10
REPS_PER_SIGNER = 2
OVER_CAP_GLOSS, OVER_CAP_EXTRA_SIGNERS = "hello", 7  # 27 clips -> 2 dropped as over_class_cap
SMALL_GLOSS, SMALL_GLOSS_SIGNERS = "wave", 3  # 6 clips -> dropped as class_below_min
RESOLUTIONS = ((160, 120), (176, 144), (128, 128), (192, 108))
BASE_FRAMES = 48
REST_POSITION = (0.62, 0.85)  # the hand down at the side: the signer at rest
REST_SECONDS = ((0.8, 1.5), (0.5, 1.0))  # at rest before and after the sign, as real clips are filmed
TRANSITION_FRAMES = 4  # the hand moving from rest to where the sign starts (and back)


@dataclass(frozen=True)
class Signer:
    """Appearance and tempo of one synthetic signer."""

    signer_id: int
    background: int
    scale: float
    offset: Point
    speed: float
    fps: int
    size: tuple[int, int]
    texture_seed: int


def make_signers(seed: int) -> list[Signer]:
    rng = np.random.default_rng(seed)
    return [
        Signer(
            signer_id=100 + i,
            background=int(rng.integers(20, 90)),
            scale=float(rng.uniform(0.85, 1.15)),
            offset=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.04, 0.04))),
            speed=float(rng.uniform(0.8, 1.25)),
            fps=int(rng.choice([25, 30])),
            size=RESOLUTIONS[i % len(RESOLUTIONS)],
            texture_seed=int(rng.integers(1 << 30)),
        )
        for i in range(NUM_SIGNERS)
    ]


def render_clip(gloss: str, signer: Signer, rng: np.random.Generator, lead_in: int = 0) -> list[np.ndarray]:
    """BGR frames of one repetition of ``gloss`` by ``signer``: ``lead_in`` frames before the clip's
    segment, then the signer at rest (hand down), the hand moving to the sign, the sign, back, at rest."""
    width, height = signer.size
    texture = np.random.default_rng(signer.texture_seed).normal(0, 12, (height // 8 + 1, width // 8 + 1))
    background = np.clip(signer.background + cv2.resize(texture, (width, height)), 0, 255)
    amplitude = rng.uniform(0.85, 1.15)
    shift = rng.uniform(-0.03, 0.03, size=2)
    n_frames = max(12, round(BASE_FRAMES / signer.speed * rng.uniform(0.9, 1.1)))
    rest_before, rest_after = (round(signer.fps * rng.uniform(*r)) for r in REST_SECONDS)
    unit = min(width, height)
    path = trajectory(gloss)
    poses = [[REST_POSITION]] * (lead_in + rest_before)
    poses += _move([REST_POSITION], path(0.0), TRANSITION_FRAMES)
    poses += [path(k / (n_frames - 1)) for k in range(n_frames)]
    poses += _move(path(1.0), [REST_POSITION], TRANSITION_FRAMES) + [[REST_POSITION]] * rest_after
    sign_start = lead_in + rest_before + TRANSITION_FRAMES
    frames = []
    for index, centres in enumerate(poses):
        phase = min(1.0, max(0.0, (index - sign_start) / (n_frames - 1)))
        image = background.copy()
        cx, cy = (0.5 + signer.offset[0]) * width, (0.25 + signer.offset[1]) * height
        cv2.circle(image, (int(cx), int(cy)), int(0.11 * unit * signer.scale), 150, -1)
        cv2.ellipse(
            image,
            (int(cx), int(cy + 0.45 * height * signer.scale)),
            (int(0.22 * unit * signer.scale), int(0.3 * height * signer.scale)),
            0,
            0,
            360,
            110,
            -1,
        )
        growth = 1 + HAND_GROWTH.get(gloss, 0.0) * phase
        for hx, hy in centres:
            x = 0.5 + (hx - 0.5) * amplitude * signer.scale + signer.offset[0] + shift[0]
            y = 0.5 + (hy - 0.5) * amplitude * signer.scale + signer.offset[1] + shift[1]
            axes = (int(0.06 * unit * growth * signer.scale), int(0.085 * unit * growth * signer.scale))
            cv2.ellipse(image, (int(x * width), int(y * height)), axes, 20, 0, 360, 235, -1)
        image += rng.normal(0, 4, image.shape)
        grey = np.clip(image, 0, 255).astype(np.uint8)
        frames.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return frames


def _move(start: list[Point], end: list[Point], frames: int) -> list[list[Point]]:
    """``frames`` poses in between ``start`` and ``end`` (straight lines; one rest hand stands for each
    hand of a two-handed sign)."""
    count = max(len(start), len(end))
    start, end = (start * count if len(start) == 1 else start), (end * count if len(end) == 1 else end)
    return [
        [(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f) for a, b in zip(start, end, strict=True)]
        for f in ((k + 1) / (frames + 1) for k in range(frames))
    ]


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise TinysignError(f"OpenCV cannot write {path}: is opencv-python-headless installed?")
    for frame in frames:
        writer.write(frame)
    writer.release()


def gloss_names(classes: int) -> list[str]:
    """The first ``classes`` glosses: the named ones, then ``sign0009``, ``sign0010`` …"""
    named = list(TRAJECTORIES)
    return named[:classes] + [f"sign{i:04d}" for i in range(len(named), classes)]


def trajectory(gloss: str) -> Trajectory:
    """A named gloss's hand path, or a procedural one (seeded by the gloss): one or two hands on
    Lissajous-like curves with their own centre, amplitude and frequencies."""
    if gloss in TRAJECTORIES:
        return TRAJECTORIES[gloss]
    rng = np.random.default_rng(int(gloss.removeprefix("sign")))
    cx, cy = rng.uniform(0.35, 0.65), rng.uniform(0.3, 0.7)
    ax, ay = rng.uniform(0.04, 0.18, size=2)
    fx, fy = rng.integers(1, 4, size=2)
    px, py = rng.uniform(0, 2 * math.pi, size=2)
    two_hands = bool(rng.random() < 0.3)

    def path(p: float) -> list[Point]:
        x = cx + ax * math.sin(2 * math.pi * fx * p + px)
        y = cy + ay * math.cos(2 * math.pi * fy * p + py)
        return [(x, y), (1 - x, y)] if two_hands else [(x, y)]

    return path


def _plan(
    seed: int, classes: int | None = None, clips_per_class: int | None = None
) -> list[tuple[str, Signer, int]]:
    """(gloss, signer, repetition) of every clip, in a fixed order.

    Default: the demo set (9 glosses x 10 signers x 2, one gloss short, one over the cap). With
    ``classes`` and ``clips_per_class``: exactly that many clips, signers taking turns.
    """
    signers = make_signers(seed)
    if classes is not None:
        per_class = clips_per_class or REPS_PER_SIGNER * NUM_SIGNERS
        return [
            (gloss, signers[k % NUM_SIGNERS], k // NUM_SIGNERS)
            for gloss in gloss_names(classes)
            for k in range(per_class)
        ]
    plan = []
    for gloss in TRAJECTORIES:
        for signer in signers:
            reps = REPS_PER_SIGNER
            if gloss == SMALL_GLOSS:
                reps = 2 if signer.signer_id - 100 < SMALL_GLOSS_SIGNERS else 0
            elif gloss == OVER_CAP_GLOSS and signer.signer_id - 100 < OVER_CAP_EXTRA_SIGNERS:
                reps += 1
            plan.extend((gloss, signer, rep) for rep in range(reps))
    return plan


def generate_demo(
    out: str | Path,
    seed: int = 7,
    progress: bool = True,
    classes: int | None = None,
    clips_per_class: int | None = None,
) -> Path:
    """Write the synthetic dataset to ``out`` (deterministic for a given ``seed``).

    Args:
        out: the dataset folder (WLASL-processed layout).
        seed: generator seed.
        progress: show a progress bar.
        classes: scale sets: this many glosses (named, then procedural) with ``clips_per_class``
            clips each, and none of the demo's deliberate drops; ``None`` = the demo set.
        clips_per_class: clips per gloss with ``classes`` (default 20).
    """
    root = Path(out)
    videos = root / "videos"
    try:
        videos.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinysignError(f"cannot create {videos}: {exc.strerror}; choose a writable --out") from None
    rng = np.random.default_rng(seed)
    plan = _plan(seed, classes, clips_per_class)
    glosses = list(dict.fromkeys(gloss for gloss, _, _ in plan))
    entries: dict[str, list[dict[str, object]]] = {gloss: [] for gloss in glosses}
    nslt: dict[str, dict[str, object]] = {}
    for number, (gloss, signer, rep) in enumerate(progress_of(plan, "demo", "videos", enabled=progress)):
        video_id = f"{number:05d}"
        lead_in = int(rng.integers(4, 12)) if number % 4 == 0 else 0
        frames = render_clip(gloss, signer, rng, lead_in)
        write_video(videos / f"{video_id}.mp4", frames, signer.fps)
        official = ("train", "val", "test")[int(rng.choice(3, p=[0.7, 0.15, 0.15]))]
        width, height = signer.size
        entries[gloss].append(
            {
                "bbox": [0, 0, width, height],
                "fps": signer.fps,
                "frame_start": lead_in + 1,
                "frame_end": -1 if lead_in == 0 else len(frames),
                "instance_id": rep,
                "signer_id": signer.signer_id,
                "source": "synthetic",
                "split": official,
                "url": f"{SYNTHETIC_SOURCE}signer{signer.signer_id}/{gloss}/{rep}",
                "variation_id": 0,
                "video_id": video_id,
            }
        )
        nslt[video_id] = {
            "subset": official,
            "action": [glosses.index(gloss), lead_in + 1, len(frames)],
        }
    missing_id = f"{len(plan):05d}"  # listed in the metadata, never downloaded
    if classes is None:
        entries["yes"].append(
            {**entries["yes"][0], "video_id": missing_id, "instance_id": 99, "url": f"{SYNTHETIC_SOURCE}lost"}
        )
    wlasl = [{"gloss": gloss, "instances": instances} for gloss, instances in entries.items()]
    (root / WLASL_METADATA).write_text(json.dumps(wlasl, indent=1))
    (root / "nslt_100.json").write_text(json.dumps(nslt, indent=1))
    (root / WLASL_MISSING).write_text(missing_id + "\n" if classes is None else "")
    (root / "wlasl_class_list.txt").write_text("".join(f"{i}\t{gloss}\n" for i, gloss in enumerate(glosses)))
    return root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["demo"], help="demo: write the synthetic dataset")
    parser.add_argument("--out", required=True, help="folder to write the dataset into")
    parser.add_argument("--demo-seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument(
        "--classes",
        type=int,
        help="scale sets: this many glosses (9 named, then procedural), no deliberate drops",
    )
    parser.add_argument("--clips-per-class", type=int, help="with --classes: clips per gloss (default 20)")


def run(args: argparse.Namespace, config: Config) -> int:
    if args.clips_per_class is not None and args.classes is None:
        raise TinysignError("--clips-per-class goes with --classes N")
    if (args.classes is not None and args.classes < 2) or (
        args.clips_per_class is not None and args.clips_per_class < 1
    ):
        raise TinysignError("--classes needs >= 2 and --clips-per-class >= 1")
    root = generate_demo(
        args.out, seed=args.demo_seed, classes=args.classes, clips_per_class=args.clips_per_class
    )
    plan = _plan(args.demo_seed, args.classes, args.clips_per_class)
    glosses = len({gloss for gloss, _, _ in plan})
    print(f"demo dataset: {root} ({len(plan)} videos, {glosses} glosses, {NUM_SIGNERS} signers)")
    return 0
