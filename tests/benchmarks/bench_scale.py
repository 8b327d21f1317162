"""How cost grows with the work: the 200 / 800 / 3,200-clip ladder, one process per stage.

``make bench-scale`` (``python tests/benchmarks/bench_scale.py [--sizes 200 800 3200] [--work DIR]``)
generates deterministic synthetic sets (20 classes x N/20 clips, 10 signers), then runs each stage as
its own ``tinysign`` process and reads that process's peak RSS from ``os.wait4``: ingest, extract, one
training epoch of each model, quantize and evaluate (streaming model). It prints wall time, clips/s and
peak RSS per stage and size, the fitted exponent of time against N (least squares on log-log) and the
RSS ratio largest : smallest. Then, on the middle set, extraction with ``beam_workers=2`` against the
in-process runner (speed ratio, byte-identical shards), and the training input pipeline against the same
batches held in memory (median step-time ratio per model, the two alternating so drift hits both).

Targets (issue #16): time exponent <= 1.1 for every stage; peak RSS at 3,200 <= 1.3x that at 200 for
ingest, extract and train; beam_workers=2 >= 1.6x in-process on 800 clips; input pipeline / in-memory
step time >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinysign.console import Progress

REPO = Path(__file__).resolve().parents[2]
TINYSIGN = Path(sys.executable).parent / "tinysign"
CLASSES = 20
STAGES = ("ingest", "extract", "train streaming", "train s3dconv1d", "quantize", "evaluate")
FLAT_RSS = ("ingest", "extract", "train streaming", "train s3dconv1d")
COMMON = ["--set", "min_per_class=2", "--set", "max_per_class=100000", "--set", "epochs=1"]


def run_stage(args: list[str]) -> tuple[float, float, float]:
    """Run ``tinysign ARGS`` as a child; return (wall seconds, CPU seconds, peak RSS MiB of that child)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(TINYSIGN), *args, *COMMON], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"tinysign {' '.join(args)} failed:\n{process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def ladder_step(size: int, work: Path, shown: Progress) -> dict[str, dict[str, float]]:
    """Every stage on the ``size``-clip set (:data:`STAGES`, each told to ``shown`` as it ends); the data
    set is generated once and kept."""
    root = work / f"n{size}"
    data = root / "data"
    if not (data / "WLASL_v0.3.json").exists():
        subprocess.run(
            [
                str(TINYSIGN),
                "data",
                "demo",
                "--out",
                str(data),
                "--classes",
                str(CLASSES),
                "--clips-per-class",
                str(size // CLASSES),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    stages = {
        "ingest": ["ingest", str(data), "--out", str(root / "ingest"), "--quiet"],
        "extract": [
            "extract",
            "--manifest",
            str(root / "ingest" / "manifest.jsonl"),
            "--out",
            str(root / "records"),
        ],
        "train streaming": [
            "train",
            "--records",
            str(root / "records"),
            "--out",
            str(root / "train-s"),
            "--set",
            "model=streaming",
        ],
        "train s3dconv1d": [
            "train",
            "--records",
            str(root / "records"),
            "--out",
            str(root / "train-f"),
            "--set",
            "model=s3dconv1d",
        ],
        "quantize": [
            "quantize",
            "--model",
            str(root / "train-s"),
            "--records",
            str(root / "records"),
            "--out",
            str(root / "quant"),
        ],
        "evaluate": [
            "evaluate",
            "--quant",
            str(root / "quant"),
            "--records",
            str(root / "records"),
            "--out",
            str(root / "eval"),
        ],
    }
    assert tuple(stages) == STAGES
    results = {}
    for name, args in stages.items():
        shutil.rmtree(args[args.index("--out") + 1], ignore_errors=True)  # a fresh run, never a resume
        seconds, cpu, rss = run_stage(args)
        results[name] = {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "clips_per_s": size / seconds,
            "rss_mib": rss,
        }
        shown.note(
            f"  n={size:5d} {name:16s} {seconds:7.1f} s (CPU {cpu:7.1f} s) {size / seconds:7.1f} clips/s "
            f"peak RSS {rss:.0f} MiB"
        )
        shown.update()
    return results


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """Slope of log(time) against log(N)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def beam_workers_ratio(root: Path) -> tuple[float, bool]:
    """Extraction with 2 DirectRunner workers vs in-process on the same manifest: speed ratio, identical?"""
    manifest = root / "ingest" / "manifest.jsonl"
    one, _, _ = run_stage(["extract", "--manifest", str(manifest), "--out", str(root / "records-1")])
    two, _, _ = run_stage(
        ["extract", "--manifest", str(manifest), "--out", str(root / "records-2"), "--set", "beam_workers=2"]
    )
    same = all(
        (root / "records-2" / p.name).read_bytes() == p.read_bytes()
        for p in (root / "records-1").glob("*.tfrecord")
    )
    return one / two, same


def input_pipeline_ratio(
    records: Path, model_name: str, augmented: bool, steps: int = 40, rounds: int = 2
) -> tuple[float, float, float]:
    """Median step time on batches held in memory / on the real tf.data pipeline (1.0 = no wait), with
    both step times in ms; ``augmented``: the training input (online augmentation + front end), else
    shards + front end only. The two alternate (``rounds`` x ``steps`` each) so drift hits both alike."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    from tinysign.config import Config
    from tinysign.data import records as rec
    from tinysign.data.inputs import model_input
    from tinysign.model.architectures import build_model
    from tinysign.model.backend import keras

    schema = rec.read_schema(records)
    config = Config(model=model_name)
    model = build_model(model_name, len(schema["labels"]), config)
    model.compile(optimizer=keras().optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    # the real training input: shards -> online augmentation -> front end, as train reads them
    transform = model_input(config, training=augmented)
    dataset = rec.make_dataset(
        records, "train", config.batch_size, shuffle=True, repeat=True, transform=transform
    )
    batches = list(dataset.take(steps))

    def step_times(source: object) -> list[float]:
        iterator = iter(source)
        model.train_on_batch(*next(iterator))  # warm-up (graph building, a first batch)
        times = []
        for _ in range(steps - 1):
            started = time.perf_counter()
            model.train_on_batch(*next(iterator))
            times.append(time.perf_counter() - started)
        return times

    in_memory: list[float] = []
    streamed: list[float] = []
    for _ in range(rounds):
        in_memory += step_times(batches)
        streamed += step_times(dataset)
    memory_ms, stream_ms = 1e3 * float(np.median(in_memory)), 1e3 * float(np.median(streamed))
    return memory_ms / stream_ms, memory_ms, stream_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 800, 3200])
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-scale")
    parser.add_argument(
        "--ratios-only",
        action="store_true",
        help="only the beam_workers and input-pipeline ratios (needs a ladder)",
    )
    args = parser.parse_args()
    print(f"bench-scale: sizes {args.sizes}, {CLASSES} classes, {os.cpu_count()} CPUs, work {args.work}")
    middle = args.work / f"n{args.sizes[len(args.sizes) // 2]}"
    if args.ratios_only:
        return int(not ratios(middle))
    with Progress("bench-scale", len(args.sizes) * len(STAGES), "stages") as shown:
        table = {size: ladder_step(size, args.work, shown) for size in args.sizes}
    print(
        "\n| stage | "
        + " | ".join(f"n={s} s (clips/s, MiB)" for s in args.sizes)
        + " | time exponent (CPU) | RSS ratio |"
    )
    print("|---|" + "---:|" * (len(args.sizes) + 2))
    verdicts = []
    for stage in table[args.sizes[0]]:
        seconds = [table[s][stage]["seconds"] for s in args.sizes]
        k = exponent(args.sizes, seconds)
        k_cpu = exponent(args.sizes, [table[s][stage]["cpu_seconds"] for s in args.sizes])
        rss = table[args.sizes[-1]][stage]["rss_mib"] / table[args.sizes[0]][stage]["rss_mib"]
        cells = [
            f"{table[s][stage]['seconds']:.1f} ({table[s][stage]['clips_per_s']:.0f}, "
            f"{table[s][stage]['rss_mib']:.0f})"
            for s in args.sizes
        ]
        print(f"| {stage} | " + " | ".join(cells) + f" | {k:.2f} ({k_cpu:.2f}) | {rss:.2f} |")
        verdicts.append(k <= 1.1 and (stage not in FLAT_RSS or rss <= 1.3))
    ok = ratios(middle) and all(verdicts)
    print(
        json.dumps(
            {"targets_met": ok, "per_stage_ok": dict(zip(table[args.sizes[0]], verdicts, strict=True))}
        )
    )
    return 0


def ratios(middle: Path) -> bool:
    """Print the beam_workers=2 speed-up and the input-pipeline ratios on ``middle``; targets met?"""
    speedup, same = beam_workers_ratio(middle)
    print(f"\nextraction, beam_workers=2 vs in-process ({middle.name}): {speedup:.2f}x; same shards: {same}")
    inputs = {
        (name, augmented): input_pipeline_ratio(middle / "records", name, augmented)
        for name in ("streaming", "s3dconv1d")
        for augmented in (True, False)
    }
    for (name, augmented), (ratio, memory_ms, stream_ms) in inputs.items():
        what = "training input (online augmentation + front end)" if augmented else "shards + front end"
        print(
            f"input pipeline, {name}, {what}: in-memory / tf.data step time {ratio:.2f} "
            f"(median {memory_ms:.0f} / {stream_ms:.0f} ms)"
        )
    return speedup >= 1.6 and same and all(r[0] >= 0.9 for r in inputs.values())


if __name__ == "__main__":
    sys.exit(main())
