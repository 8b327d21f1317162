"""Robustness to a new camera: the LOSO models on their test signer's clips as another camera films them.

    python tests/benchmarks/bench_robustness.py [--data ../shared/data/fsl105-dev]
        [--work runs/bench-accuracy] [--seeds N] [--folds 1 2 3 4] [--conditions NAME ...]
        [--set key=value ...]

Every fsl105-dev clip was filmed by one camera in one studio. The models are ``make bench-accuracy``'s
(the same ``--work``, config and seeds: its finished folds are reused, missing ones trained the same way —
streaming model, 30 signs, ``unknown_share=0``); each fold's INT8 streaming pair (LiteRT, deployment path)
classifies the test signer's 150 sign windows (the window a test record holds) under each condition of
:data:`CONDITIONS`, beside the clean windows:

* photometric and geometric conditions transform the clip's **decoded** grey 64x64 frames before the front
  end (:mod:`tinysign.data.filming`, applied by :func:`tinysign.data.clips.sign_windows`): brightness
  x0.6 / x1.4 (grey levels multiplied, saturating), contrast x0.7 around mid-grey, sensor noise (Gaussian,
  sigma :data:`NOISE_SIGMA` grey levels, every pixel of every frame, seeded per clip), framing shifted right
  by 10 % of the width and zoom 0.85 / 1.15 about the centre (edge pixels repeated where the source has no
  picture), a 2x lower-resolution source (each 64x64 frame area-averaged to 32x32 and bilinearly scaled
  back), a cluttered static background (a photograph of a cluttered garage, scikit-image's
  ``stereo_motorcycle`` left view, replaces the studio wall wherever a frame shows it:
  :func:`tinysign.data.backdrop.backdrop_mask`);
* the 15 fps camera is planned again through the extraction's own code (``eval_fps=15``:
  :func:`tinysign.data.clips.plan_ticks`), so each stream tick shows the latest frame a 15 fps camera
  would have delivered.

The window's place in time is the clean clip's (the sign's span is an offline label, not something the
device computes). Printed: INT8 accuracy per condition and fold (mean over seeds), the mean over folds and
its difference from clean, and issue #25's targets (every condition within 10 pp of clean, brightness
within 5 pp, judged on the mean over folds), each PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.bench_accuracy import DATA, bench_config, ingested  # noqa: E402
from tinysign.config import Config  # noqa: E402
from tinysign.data import filming  # noqa: E402
from tinysign.data.clips import sign_windows  # noqa: E402
from tinysign.data.hashing import stable_hash  # noqa: E402
from tinysign.data.manifest import clip_of, read_manifest  # noqa: E402
from tinysign.data.splits import cv_folds  # noqa: E402
from tinysign.model.files import load_quantized  # noqa: E402
from tinysign.runtime.streaming import lite_classifier  # noqa: E402
from tinysign.workflows.crossval import run_cv, seed_list  # noqa: E402

NOISE_SIGMA = 4.0  # grey levels on the 64x64 frame: twice the training augmentation's sigma
MAX_DROP, MAX_BRIGHTNESS_DROP = 0.10, 0.05
CLEAN = "clean (as filmed)"


@dataclass(frozen=True)
class Condition:
    """One way another camera films: a transform of the decoded frames, or another camera rate."""

    name: str
    film: Callable[[np.random.Generator], filming.Film] | None = None  # rng (per clip) -> Film
    eval_fps: int | None = None
    brightness: bool = False


@cache
def _photo() -> np.ndarray:
    from skimage import data

    left, _, _ = data.stereo_motorcycle()
    return left[..., ::-1].copy()  # RGB -> BGR, as OpenCV decodes


CONDITIONS = (
    Condition("brightness x0.6", lambda rng: filming.gain(0.6), brightness=True),
    Condition("brightness x1.4", lambda rng: filming.gain(1.4), brightness=True),
    Condition("contrast x0.7", lambda rng: filming.contrast(0.7)),
    Condition(f"sensor noise sigma {NOISE_SIGMA:g}", lambda rng: filming.sensor_noise(NOISE_SIGMA, rng)),
    Condition("framing shifted 10 % of the width", lambda rng: filming.reframe(shift=0.10)),
    Condition("zoom 0.85", lambda rng: filming.reframe(zoom=0.85)),
    Condition("zoom 1.15", lambda rng: filming.reframe(zoom=1.15)),
    Condition("15 fps camera", eval_fps=15),
    Condition("2x lower-resolution source", lambda rng: filming.lower_resolution(2)),
    Condition("cluttered static background", lambda rng: filming.cluttered_background(_photo())),
)


def filmed_windows(clip, config: Config, conditions: list[Condition]) -> dict[str, np.ndarray]:
    """The clip's sign window clean and under every condition (one decode for all frame transforms)."""
    rng = np.random.default_rng(stable_hash(config.seed, "robustness", clip.clip_id))
    films = {CLEAN: filming.as_filmed, **{c.name: c.film(rng) for c in conditions if c.film}}
    windows = sign_windows(clip, config, films)
    for c in conditions:
        if c.eval_fps:
            windows[c.name] = sign_windows(
                clip, config.replace(eval_fps=c.eval_fps), {"": filming.as_filmed}
            )[""]
    return windows


def fold_accuracy(
    quant_dir: Path, clips: list, config: Config, conditions: list[Condition]
) -> dict[str, float]:
    """INT8 accuracy of one fold's model on its test clips, per condition."""
    quant = load_quantized(quant_dir)
    classifier = lite_classifier(quant, "int8")
    hits: dict[str, list[bool]] = {}
    for clip in clips:
        for name, frames in filmed_windows(clip, config, conditions).items():
            predicted = quant.labels[int(np.argmax(classifier.classify(frames)))]
            hits.setdefault(name, []).append(predicted == clip.label)
    return {name: float(np.mean(h)) for name, h in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-accuracy"), help="bench-accuracy's")
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="the first N seeds' models")
    parser.add_argument("--folds", nargs="+", type=int, default=[1, 2, 3, 4])
    parser.add_argument("--conditions", nargs="+", metavar="NAME", help="only these (default all)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: not found (the fsl105-dev set in ../shared/data)")
    conditions = [c for c in CONDITIONS if not args.conditions or c.name in args.conditions]
    if args.conditions and len(conditions) != len(args.conditions):
        raise SystemExit(f"unknown condition(s); choose from: {', '.join(c.name for c in CONDITIONS)}")
    started, work = time.perf_counter(), Path(args.work)
    config = bench_config(args.set)
    seeds = seed_list(config, args.seeds)
    manifest = ingested(args.data, work, config)
    # the final models of bench-accuracy (every signer but the test one), reused when done
    run_cv(manifest, work / "recipe", config, ["streaming"], args.folds, seeds, train_on_val=True)

    rows = read_manifest(manifest)
    folds = cv_folds([clip_of(r) for r in rows], config.folds, config.seed)
    table: dict[int, dict[str, float]] = {}
    for k in args.folds:
        test = [clip_of(r) for r in rows if folds[k - 1].splits[r["clip_id"]] == "test"]
        per_seed = [
            fold_accuracy(
                work / "recipe" / f"fold-{k}" / f"seed-{seed}-final" / "streaming" / "quantize",
                test,
                config.replace(seed=seed),
                conditions,
            )
            for seed in seeds
        ]
        table[k] = {name: float(np.mean([s[name] for s in per_seed])) for name in per_seed[0]}
        print(
            f"fold {k} ({folds[k - 1].name}): " + ", ".join(f"{n} {v:.3f}" for n, v in table[k].items()),
            flush=True,
        )
    report(table, conditions, seeds, work)
    print(f"\nwall time {time.perf_counter() - started:.0f} s (reused folds count as 0)")


def report(
    table: dict[int, dict[str, float]], conditions: list[Condition], seeds: list[int], work: Path
) -> None:
    names = [CLEAN, *(c.name for c in conditions)]
    mean = {n: float(np.mean([table[k][n] for k in table])) for n in names}
    print(
        f"\nINT8 streaming pair, test signer's sign windows, {len(table)} fold(s), each the mean of "
        f"{len(seeds)} seed(s)\n"
    )
    print("| condition | " + " | ".join(f"fold {k}" for k in table) + " | **mean** | vs clean |")
    print("|---|" + "---:|" * (len(table) + 2))
    for n in names:
        delta = "—" if n == CLEAN else f"{100 * (mean[n] - mean[CLEAN]):+.1f} pp"
        print(
            f"| {n} | "
            + " | ".join(f"{table[k][n]:.1%}" for k in table)
            + f" | **{mean[n]:.1%}** | {delta} |"
        )
    print("\nIssue #25's targets (mean over folds):")
    for c in conditions:
        limit = MAX_BRIGHTNESS_DROP if c.brightness else MAX_DROP
        ok = mean[c.name] >= mean[CLEAN] - limit - 1e-9
        print(f"- {c.name} within {100 * limit:.0f} pp of clean: {'PASS' if ok else 'FAIL'}")
    work.mkdir(parents=True, exist_ok=True)
    (work / "bench_robustness.json").write_text(
        json.dumps({"seeds": seeds, "folds": table, "mean": mean}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
