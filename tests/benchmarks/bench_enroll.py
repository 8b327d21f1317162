"""Few-shot enrollment on real signers: new signs from k = 1, 3, 5 clips, tested on a signer never seen.

    python tests/benchmarks/bench_enroll.py [--data ../shared/data/fsl105-dev] [--work runs/bench-enroll]
                                            [--draws 10] [--set key=value ...]

Protocol (issue #15) on fsl105-dev (30 signs x 4 signers x 5 takes): every third sign in sorted order
(10 signs) is held out as "new"; the streaming model (default recipe) trains on the other 20 signs with
signers s1 + s2 (train) and s3 (validation). Each new sign is then enrolled from k clips drawn from
s1-s3 (``--draws`` random draws per k, the same draws for every method) and tested on signer s4's 5
clips of each new sign (50 clips, 10-way). Printed side by side per k: the enrolled INT8 prototype head
(the deployed INT8 frame model's embedding, :mod:`tinysign.enroll`), the same prototypes through the
float32 head (what INT8 costs), raw-pixel and motion cosine 1-NN
on the same k clips (:mod:`tinysign.model.baselines`), and for reference the softmax head on s4's clips
of the 20 trained signs. Also the flash size of a 100-sign prototype head.

Targets: 1-shot >= raw-pixel 1-NN + 15 pp; 5-shot >= 70 %; a 100-sign head <= 8 KB flash.
The trained model is reused on a rerun with the same config (delete ``--work`` to retrain).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tinysign.config import Config  # noqa: E402
from tinysign.data import records  # noqa: E402
from tinysign.data.manifest import Clip, write_manifest  # noqa: E402
from tinysign.evaluate import run_evaluate  # noqa: E402
from tinysign.extract import run_extract  # noqa: E402
from tinysign.ingest import run_ingest  # noqa: E402
from tinysign.model.baselines import FEATURES, clip_features  # noqa: E402
from tinysign.model.files import load_quantized  # noqa: E402
from tinysign.model.prototypes import export_head  # noqa: E402
from tinysign.quantize import run_quantize  # noqa: E402
from tinysign.runtime.enrollment import ENROLL_SHOTS, Embedder, accuracy_vs_k, enrollment_draws  # noqa: E402
from tinysign.runtime.litert import int8_range  # noqa: E402
from tinysign.summaries import read_summary  # noqa: E402
from tinysign.train import run_train  # noqa: E402

TRAIN_SPLITS = {"s1": "train", "s2": "train", "s3": "val", "s4": "test"}
ENROLL_SIGNERS = ("s1", "s2", "s3")
TEST_SIGNER = "s4"
HEAD_SIGNS, HEAD_BUDGET = 100, 8 * 1024


def split_signs(labels: list[str]) -> tuple[list[str], list[str]]:
    """(trained, new): every third sign in sorted order is new."""
    ordered = sorted(labels)
    new = ordered[2::3]
    return [s for s in ordered if s not in new], new


def records_for(
    clips: list[Clip], splits: dict[str, str], labels: list[str], out: Path, config: Config
) -> Path:
    """Extract ``clips`` (label indices into ``labels``) once; reuse the records on a rerun."""
    if not read_summary(out / "records"):
        manifest = out / "manifest.jsonl"
        out.mkdir(parents=True, exist_ok=True)
        write_manifest(manifest, clips, splits, labels)
        run_extract(manifest, out / "records", config)
    return out / "records"


def trained_model(records_dir: Path, out: Path, config: Config) -> tuple[Path, dict]:
    """Train + quantize + evaluate the softmax model on the 20 trained signs (reused when done)."""
    done = out / "done.json"
    if done.is_file() and json.loads(done.read_text())["config"] == config.to_dict():
        return out / "quantize", json.loads(done.read_text())["evaluation"]
    started = time.perf_counter()
    run_train(records_dir, out / "train", config)
    run_quantize(out / "train", records_dir, out / "quantize", config)
    evaluation = dict(run_evaluate(out / "quantize", records_dir, out / "evaluate", config))
    evaluation["train_seconds"] = time.perf_counter() - started
    done.write_text(json.dumps({"config": config.to_dict(), "evaluation": evaluation}, default=str))
    return out / "quantize", evaluation


def nearest_neighbour(
    features: dict[str, list[np.ndarray]], test: dict[str, list[np.ndarray]], k: int, draws: int
) -> list[float]:
    """Cosine 1-NN accuracy with the first ``k`` clips of each draw as references (same draws)."""
    sizes = {sign: len(f) for sign, f in features.items()}
    scores = []
    for picks in enrollment_draws(sizes, k, draws):
        refs = [(sign, features[sign][i]) for sign, pick in picks.items() for i in pick[:k]]
        matrix = np.stack([f for _, f in refs]).astype(np.float32)
        hits = [
            refs[int(np.argmax(matrix @ f.astype(np.float32)))][0] == sign
            for sign, fs in test.items()
            for f in fs
        ]
        scores.append(float(np.mean(hits)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsl105-dev"))
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-enroll"))
    parser.add_argument("--draws", type=int, default=10, help="random draws of the k clips per k")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: not found (the fsl105-dev set in ../shared/data)")
    work = Path(args.work)
    config = Config.load(None, ["model=streaming", *args.set])
    started = time.perf_counter()

    ingest = work / "ingest"
    run_ingest([args.data], ingest, config.replace(split_mode="signer", test_signers=("s4",)), progress=False)
    rows = [json.loads(line) for line in (ingest / "manifest.jsonl").read_text().splitlines()]
    clips = [Clip(**{k: v for k, v in r.items() if k in Clip.__dataclass_fields__}) for r in rows]
    trained, new = split_signs(sorted({c.label for c in clips}))
    old = [c for c in clips if c.label in trained]
    fresh = [c for c in clips if c.label in new]
    print(f"{len(trained)} trained signs, {len(new)} new signs: {', '.join(new)}", flush=True)

    old_records = records_for(
        old, {c.clip_id: TRAIN_SPLITS[c.signer] for c in old}, trained, work / "trained", config
    )
    new_records = records_for(fresh, {c.clip_id: "test" for c in fresh}, new, work / "new", config)
    quant_dir, evaluation = trained_model(old_records, work / "model", config)

    quant = load_quantized(quant_dir)
    embedder = Embedder(quant)
    signer_of = {c.clip_id: c.signer for c in fresh}
    pool, test = defaultdict(list), defaultdict(list)
    raw_pool, raw_test = defaultdict(list), defaultdict(list)
    for record in sorted(records.iter_records(new_records, "test"), key=lambda r: r.clip_id):
        window, features = embedder.window(record.frames), clip_features(record.frames)
        is_test = signer_of[record.clip_id] == TEST_SIGNER
        (test if is_test else pool)[record.label_name].append(window)
        (raw_test if is_test else raw_pool)[record.label_name].append(features)
    range_ = int8_range(embedder.qparams)  # type: ignore[arg-type]
    enrolled = accuracy_vs_k(quant, range_, dict(pool), ENROLL_SHOTS, args.draws, test=dict(test))
    baselines = {
        name: {
            str(k): nearest_neighbour(
                {s: [f[name] for f in fs] for s, fs in raw_pool.items()},
                {s: [f[name] for f in fs] for s, fs in raw_test.items()},
                k,
                args.draws,
            )
            for k in ENROLL_SHOTS
        }
        for name in FEATURES
    }
    rng = np.random.default_rng(0)
    width = len(next(iter(pool.values()))[0][0])
    random_protos = {
        f"sign{i}": v / np.linalg.norm(v) for i, v in enumerate(rng.normal(size=(HEAD_SIGNS, width)))
    }
    head_bytes = len(
        export_head(random_protos, [w for ws in pool.values() for w in ws], quant.num_frames, range_)["int8"]
    )

    tested = sum(len(v) for v in test.values())
    print(
        f"\nEnrollment on fsl105-dev: {len(new)} new signs, test signer {TEST_SIGNER} ({tested} clips, "
        f"{len(new)}-way), {args.draws} draws per k (same clips for every method)\n"
    )
    print(
        "| clips per sign (k) | enrolled INT8 prototype head | same prototypes, float32 head "
        "| raw-pixel 1-NN | motion 1-NN | head − raw |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for k in ENROLL_SHOTS:
        mine = enrolled[str(k)]
        raw, motion = (np.array(baselines[n][str(k)]) for n in ("nearest_neighbour", "motion_nn"))
        print(
            f"| {k} | {mine['mean']:.1%} ± {mine['std']:.1%} | {mine['float32_mean']:.1%} | "
            f"{raw.mean():.1%} ± {raw.std():.1%} | "
            f"{motion.mean():.1%} ± {motion.std():.1%} | {100 * (mine['mean'] - raw.mean()):+.1f} pp |"
        )
    print(
        f"\nReference: softmax head on the {len(trained)} trained signs, signer {TEST_SIGNER}: INT8 "
        f"{evaluation['int8_accuracy']:.1%} (float32 {evaluation['float32_accuracy']:.1%}, "
        f"{evaluation['num_test_clips']} clips, {len(trained)}-way)"
    )
    print(f"Prototype head for {HEAD_SIGNS} signs: {head_bytes:,} B flash (budget {HEAD_BUDGET:,} B)")
    one, five = enrolled["1"]["mean"], enrolled["5"]["mean"]
    raw_one = float(np.mean(baselines["nearest_neighbour"]["1"]))
    checks = {
        "1-shot >= raw-pixel 1-NN + 15 pp": one >= raw_one + 0.15,
        "5-shot >= 70 %": five >= 0.70,
        f"{HEAD_SIGNS}-sign head <= 8 KB": head_bytes <= HEAD_BUDGET,
    }
    for name, ok in checks.items():
        print(f"- {name}: {'PASS' if ok else 'FAIL'}")
    seconds = time.perf_counter() - started
    print(f"\nwall time {seconds:.0f} s (training {evaluation.get('train_seconds', 0):.0f} s)")
    (work / "bench_enroll.json").write_text(
        json.dumps(
            {
                "enrolled": enrolled,
                "baselines": baselines,
                "head_bytes": head_bytes,
                "checks": checks,
                "softmax_reference": {k: evaluation[k] for k in ("int8_accuracy", "float32_accuracy")},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
