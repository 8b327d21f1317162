"""Extraction throughput vs OpenCV decode-only throughput, on the same clips, then per Beam runner,
in one run.

    python tests/benchmarks/bench_extract.py [--clips N] [--runners-only]

Prints clips/s for (1) decoding every frame with OpenCV and nothing else, (2) the per-clip
extraction function (decode + crop/grey/resize + FPS variants + augmentation + Example
serialisation), (3) the whole Beam pipeline in-process (incl. shard writing), and the ratios
(2)/(1) and (3)/(1). Target: extraction >= 0.8 x decode-only, single process.

Then the whole pipeline on every runner this machine can host, on fsl105-dev's 600 real clips (the
demo clips when it is absent): in-process, the DirectRunner with 2 worker processes, the portable
runner on an SDK worker pool, and Dask with 2 single-threaded workers — clips/s from the start of a
run to committed shards, two runs in a row (engines started beforehand), and whether every run's
shards are byte-identical to the in-process ones. On 2 cores it is a correctness and overhead figure,
not a speed-up claim.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests.engines

from tests.engines import dask_cluster, worker_pool  # noqa: E402
from tinysign.config import REST_LABEL, Config  # noqa: E402
from tinysign.data import records  # noqa: E402
from tinysign.data.clips import extract_clip  # noqa: E402
from tinysign.data.manifest import clip_of, read_manifest  # noqa: E402
from tinysign.data.runners import runner_args  # noqa: E402
from tinysign.demo import generate_demo  # noqa: E402
from tinysign.extract import run_extract  # noqa: E402
from tinysign.ingest import run_ingest  # noqa: E402

WLASL_SAMPLE = ROOT.parent / "shared" / "data" / "wlasl-sample"
FSL105 = ROOT.parent / "shared" / "data" / "fsl105-dev"


def extract_row(row: dict, config: Config) -> list[records.ClipRecord]:
    return extract_clip(clip_of(row), row["split"], [row["label"], REST_LABEL], config).records


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


def measure_runners(name: str, manifest: Path, root: Path, config: Config) -> None:
    """clips/s of the whole pipeline on each runner over ``manifest``, twice in a row (the first run
    pays the workers' start-up: imports of Beam, OpenCV, TensorFlow); shards compared byte for byte."""
    clips = len(read_manifest(manifest))
    print(f"{name}: {clips} clips, the whole pipeline per runner on 2 cores: clips/s (seconds)")
    print(f"  {'runner':38s}  {'first run':>17s}  {'second run':>17s}  shards")
    with ExitStack() as engines:
        pool = engines.enter_context(worker_pool(root / "pool"))
        scheduler = engines.enter_context(dask_cluster(root / "dask", workers=2))
        runs = {
            "direct, in-process": (config, []),
            "direct, 2 worker processes": (config.replace(beam_workers=2), []),
            "portable, SDK worker pool (1 worker)": (config, runner_args("portable", pool)),
            "dask, 2 workers": (config, runner_args("dask", scheduler)),
        }
        reference: dict[str, bytes] = {}
        for n, (label, (run_config, beam_args)) in enumerate(runs.items()):
            timings, same = [], True
            for round_ in range(2):
                out = root / f"records-{n}-{round_}"
                start = time.perf_counter()
                run_extract(manifest, out, run_config, beam_args)
                timings.append(time.perf_counter() - start)
                shards = {p.name: p.read_bytes() for p in sorted(out.glob("*.tfrecord"))}
                reference = reference or shards
                same = same and shards == reference
            cells = "  ".join(f"{clips / s:7.1f} ({s:5.1f} s)" for s in timings)
            print(f"  {label:38s}  {cells}  {'same' if same else 'DIFFER'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=165, help="how many demo clips to use")
    parser.add_argument("--wlasl", default=str(WLASL_SAMPLE), help="real WLASL sample (skipped when absent)")
    parser.add_argument("--fsl105", default=str(FSL105), help="real set for the runners (skipped if absent)")
    parser.add_argument("--runners-only", action="store_true", help="only the per-runner table")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_demo(root / "data", progress=False)
        run_ingest([str(root / "data")], root / "ingest", Config(), progress=False)
        rows = read_manifest(root / "ingest" / "manifest.jsonl")[: args.clips]
        if not args.runners_only:
            measure("synthetic demo (160x120 .. 192x108)", rows, root / "demo", Config())
            if Path(args.wlasl).exists():
                config = Config(min_per_class=2)
                run_ingest([args.wlasl], root / "wlasl-ingest", config, progress=False)
                rows = read_manifest(root / "wlasl-ingest" / "manifest.jsonl")
                measure("real WLASL sample (288x192 .. 1920x1080)", rows, root / "wlasl", config)
            print("target: extraction >= 0.80 x decode-only (single process)\n")
        cv2.setNumThreads(-1)  # the runners as the CLI runs them: OpenCV's default threads everywhere
        logging.getLogger("apache_beam").setLevel(logging.ERROR)  # the SDK workers' start-up warnings
        if Path(args.fsl105).exists():
            config = Config(split_mode="signer", test_signers=("s4",), val_signers=("s3",))
            run_ingest([args.fsl105], root / "fsl105-ingest", config, progress=False)
            manifest, name = root / "fsl105-ingest" / "manifest.jsonl", "fsl105-dev (real)"
        else:
            config, manifest, name = Config(), root / "ingest" / "manifest.jsonl", "synthetic demo"
        measure_runners(name, manifest, root / "runners", config)


if __name__ == "__main__":
    main()
