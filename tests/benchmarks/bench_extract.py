"""Extraction throughput vs OpenCV decode-only throughput, on the same clips, in one run.

    python tests/benchmarks/bench_extract.py [--clips N]

Prints clips/s for (1) decoding every frame with OpenCV and nothing else, (2) the per-clip
extraction function (decode + crop/grey/resize + FPS variants + augmentation + Example
serialisation), (3) the whole Beam pipeline in-process (incl. shard writing), and the ratios
(2)/(1) and (3)/(1). Target: extraction >= 0.8 x decode-only, single process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2

from tinysign.config import Config
from tinysign.data import records
from tinysign.data.clips import extract_clip
from tinysign.data.manifest import clip_of, read_manifest
from tinysign.demo import generate_demo
from tinysign.extract import run_extract
from tinysign.ingest import run_ingest

WLASL_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "wlasl-sample"


def extract_row(row: dict, config: Config) -> list[records.ClipRecord]:
    return extract_clip(clip_of(row), row["split"], int(row["label_index"]), config)


def decode_only(path: str) -> int:
    capture = cv2.VideoCapture(path)
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def interleaved_clips_per_second(rows: list[dict], config: Config, rounds: int = 2) -> tuple[float, float]:
    """(decode-only, extraction) clips/s, timing the two alternately clip by clip so that load
    changes on a shared machine hit both equally."""
    decode_s = extract_s = 0.0
    for _ in range(rounds):
        for row in rows:
            start = time.perf_counter()
            decode_only(row["path"])
            middle = time.perf_counter()
            [records.serialize(x) for x in extract_row(row, config)]
            decode_s += middle - start
            extract_s += time.perf_counter() - middle
    return rounds * len(rows) / decode_s, rounds * len(rows) / extract_s


def measure(name: str, rows: list[dict], root: Path, config: Config) -> None:
    """Decode-only vs extraction clips/s over the same ``rows``, printed as ratios."""
    root.mkdir(parents=True)
    (root / "subset.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    records.serialize(extract_row(rows[0], config)[0])  # warm-up: TensorFlow proto import
    decode, extract = interleaved_clips_per_second(rows, config)
    start = time.perf_counter()
    run_extract(root / "subset.jsonl", root / "records", config)
    beam = len(rows) / (time.perf_counter() - start)
    print(
        f"{name}: {len(rows)} clips (train clips -> {len(config.fps_targets)} FPS variants "
        f"+ {config.augment_copies} augmented copies)"
    )
    print(f"  OpenCV decode-only          : {decode:7.1f} clips/s")
    print(f"  extraction (per-clip fn)    : {extract:7.1f} clips/s   ratio {extract / decode:.2f} x decode")
    print(f"  extraction (Beam in-process): {beam:7.1f} clips/s   ratio {beam / decode:.2f} x decode")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=165, help="how many demo clips to use")
    parser.add_argument("--wlasl", default=str(WLASL_SAMPLE), help="real WLASL sample (skipped when absent)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_demo(root / "data", progress=False)
        run_ingest([str(root / "data")], root / "ingest", Config(), progress=False)
        rows = read_manifest(root / "ingest" / "manifest.jsonl")[: args.clips]
        measure("synthetic demo (160x120 .. 192x108)", rows, root / "demo", Config())
        if Path(args.wlasl).exists():
            config = Config(min_per_class=2)
            run_ingest([args.wlasl], root / "wlasl-ingest", config, progress=False)
            rows = read_manifest(root / "wlasl-ingest" / "manifest.jsonl")
            measure("real WLASL sample (288x192 .. 1920x1080)", rows, root / "wlasl", config)
    print("target: extraction >= 0.80 x decode-only (single process)")


if __name__ == "__main__":
    main()
