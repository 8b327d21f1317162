"""INT8 vs float32 LiteRT latency per clip, and the MCU table, for both models at full size.

    python tests/benchmarks/bench_quantize.py [--records DIR] [--classes 8] [--repeats 5]

Without ``--records`` it writes learnable pattern clips at the default shape (24 x 64 x 64), trains
each model for one epoch (``tinysign train``), quantizes it (PTQ), then in one run:

1. times LiteRT (1 thread) per clip for the INT8 and float32 ``.tflite`` files, clips interleaved
   round-robin so load from other processes hits both alike, and prints the ratio; the streaming
   model is timed on its deployment path (T frame invocations + the head) and per incoming frame;
2. runs ``tinysign mcu`` on each INT8 model and prints arena, flash and MACs against the budgets
   (``arena_budget_bytes`` 16 KB per invocation, ``flash_budget_bytes`` 200 KB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # for tests.conftest when run as a script

from tests.conftest import write_pattern_records  # noqa: E402
from tinysign.config import Config  # noqa: E402
from tinysign.data import records  # noqa: E402
from tinysign.mcu import markdown_report, run_mcu_check  # noqa: E402
from tinysign.model.files import load_quantized  # noqa: E402
from tinysign.quantize import run_quantize  # noqa: E402
from tinysign.runtime.streaming import lite_classifier  # noqa: E402
from tinysign.train import run_train  # noqa: E402


def latency(quant_dir: Path, clips: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds per clip for int8 and float32, interleaved clip by clip."""
    quant = load_quantized(quant_dir)
    classifiers = {p: lite_classifier(quant, p) for p in ("int8", "float32")}
    for classifier in classifiers.values():  # warm-up
        classifier.classify(clips[0])
    times: dict[str, list[float]] = {p: [] for p in classifiers}
    for _ in range(repeats):
        for clip in clips:
            for precision, classifier in classifiers.items():
                start = time.perf_counter()
                classifier.classify(clip)
                times[precision].append(time.perf_counter() - start)
    return {p: float(np.median(t)) for p, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", help="extraction output to use (default: synthetic pattern clips)")
    parser.add_argument("--classes", type=int, default=8, help="classes of the synthetic records")
    parser.add_argument("--repeats", type=int, default=5, help="latency passes over the test clips")
    args = parser.parse_args()
    config = Config(epochs=1, batch_size=16, calibration_samples=32)
    work = Path(tempfile.mkdtemp(prefix="bench-quantize-"))
    records_dir = (
        Path(args.records)
        if args.records
        else write_pattern_records(
            work / "records", num_classes=args.classes, per_split={"train": 4, "val": 1, "test": 2}
        )
    )
    clips = records.load_arrays(records_dir, "test")[0]
    shape = clips.shape[1:]
    print(f"clips {shape[0]}x{shape[1]}x{shape[2]}, {len(clips)} test clips, records {records_dir}")

    rows = []
    for kind in ("s3dconv1d", "streaming"):
        start = time.perf_counter()
        run_train(records_dir, work / f"train-{kind}", config.replace(model=kind))
        run_quantize(work / f"train-{kind}", records_dir, work / f"quant-{kind}", config.replace(model=kind))
        prepared = time.perf_counter() - start
        lat = latency(work / f"quant-{kind}", clips, args.repeats)
        report = run_mcu_check(work / f"quant-{kind}", records_dir, work / f"mcu-{kind}", config)
        rows.append((kind, lat, report))
        print(f"\n== {kind}: trained 1 epoch + PTQ in {prepared:.0f} s")
        print(
            f"LiteRT 1 thread, per clip: int8 {1e3 * lat['int8']:.2f} ms, "
            f"float32 {1e3 * lat['float32']:.2f} ms, int8/float32 = {lat['int8'] / lat['float32']:.2f}"
        )
        if kind == "streaming":
            frames = shape[0]
            print(
                f"  per incoming frame (frame model + head): int8 ~{1e3 * lat['int8'] / frames:.3f} ms, "
                f"float32 ~{1e3 * lat['float32'] / frames:.3f} ms"
            )
        print(markdown_report(report))

    print("\n== summary (one run)")
    print(
        "| model | int8 ms/clip | float32 ms/clip | int8/float32 | arena (largest) | arena budget | "
        "flash | flash budget | MACs/clip | SRAM total |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---|---:|---:|")
    for kind, lat, r in rows:
        b = r["budgets"]
        print(
            f"| {kind} | {1e3 * lat['int8']:.2f} | {1e3 * lat['float32']:.2f} | "
            f"{lat['int8'] / lat['float32']:.2f} | {r['arena_bytes']} B | "
            f"{'PASS' if b['arena']['passed'] else 'FAIL'} (<= {b['arena']['limit_bytes']}) | "
            f"{r['flash_bytes']} B | {'PASS' if b['flash']['passed'] else 'FAIL'} "
            f"(<= {b['flash']['limit_bytes']}) | "
            f"{r['macs_per_clip']:,} | {r['total_sram_bytes']} B |"
        )
    print(f"\noutputs in {work}")


if __name__ == "__main__":
    main()
