"""Accuracy for an unseen signer on real video: leave-one-signer-out on fsl105-dev, both models, N seeds.

    python tests/benchmarks/bench_accuracy.py [--data ../shared/data/fsl105-dev] [--work runs/bench-accuracy]
        [--seeds N] [--models streaming s3dconv1d] [--folds 1 2 3 4] [--ablations [NAME ...]]
        [--set key=value ...]

Runs ``tinysign cv`` (:mod:`tinysign.workflows.crossval`) with the default recipe: 4 folds, fold k tests
signer s<k> and validates on the next signer (never the test one). Two models per fold: one trained on the
other two signers, measured on the validation signer (what recipes are chosen on), and the fold's **final
model**, trained with the same recipe on every signer but the test one (the validation signer too: the whole
schedule, no early stopping, nothing left to choose), which alone meets the test signer (``--no-final``: the
test signer meets the two-signer model instead, as before this round). With ``--seeds N`` every final model is
trained N times (config ``seed``, ``seed + 1``, ...; the folds are the same).

**What is measured: the 30-sign classifier.** The bench runs with ``unknown_share=0`` (every one of the 30
signs is a class; none is pooled into ``unknown``) and scores the **sign windows** of the test signer — the
window ending just after each test clip's sign, as the device's ring buffer holds it — not the ``rest``
windows. The models do learn ``rest`` (``rest_class``, the default): the classifier a device runs has that
class, a window of a sign it calls ``rest`` is a sign the device misses, and the bench measures the model
that ships rather than one without its 31st class. (``--set rest_class=false`` measures the other.)

Printed per model: every fold's mean over seeds (val INT8 on the validation signer's sign windows, float32
and INT8 test accuracy, INT8 - float, agreement) beside the trivial baselines (majority, raw-pixel and
motion cosine 1-NN on the same windows), the mean ± the standard deviation over folds and the mean over
folds of the standard deviation over seeds; accuracy per category of fsl105-dev's ``category`` column
(GREETING, SURVIVAL, NUMBER, CALENDAR, DAYS: a gain on dynamic signs must not hide a loss on the static
number signs); the MCU numbers of the INT8 streaming pair (fold 1, first seed); the targets of issue
#25, each PASS/FAIL; the wall time. ``--ablations`` also runs the streaming recipe with one element
removed at a time (:data:`ABLATIONS`) and prints the ablation table (validation decides; test shown).
Finished folds are reused on a rerun with the same config (delete ``--work`` to start over).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tinysign.config import Config  # noqa: E402
from tinysign.ingest import run_ingest  # noqa: E402
from tinysign.mcu import run_mcu_check  # noqa: E402
from tinysign.model.baselines import strongest  # noqa: E402
from tinysign.reporting.tables import to_markdown  # noqa: E402
from tinysign.reporting.views import cv_tables  # noqa: E402
from tinysign.summaries import CvSummary, read_summary  # noqa: E402
from tinysign.workflows.crossval import run_cv, seed_list  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "fsl105-dev"
# One element of the recipe removed (or replaced by the seed's choice) at a time.
ABLATIONS: dict[str, list[str]] = {
    "raw pixels instead of frame differences": ["front_end=raw"],
    "no online augmentation": ["augment_online=false"],
    "no temporal crop / speed": ["augment_time=0"],
    "no rotation / scale / shift": ["augment_rotate=0", "augment_scale=0", "augment_shift=0"],
    "no contrast / brightness / noise": ["augment_contrast=0", "augment_brightness=0", "augment_noise=0"],
    "dropout 0.3 before the softmax": ["dropout=0.3"],
    "constant learning rate 1e-3, early stopping (seed)": [
        "lr_schedule=constant",
        "learning_rate=0.001",
        "patience=10",
    ],
    "ReLU, no activation noise": ["activation=relu", "activation_noise=0"],
}
# Issue #25's targets.
LOSO_MEAN, FOLD_MIN, TARGET_SEEDS, FOLDS = 0.60, 0.50, 3, 4
MIN_AGREEMENT, MIN_INT8_MINUS_FLOAT = 0.95, -0.01
FRAME_ARENA, FLASH, MACS_PER_FRAME = 16 * 1024, 200 * 1024, 1_000_000
COLUMNS = (
    ("val_accuracy", "val INT8"),
    ("float32_accuracy", "test float32"),
    ("int8_accuracy", "**test INT8**"),
    ("int8_minus_float32", "INT8 − float"),
    ("agreement", "agreement"),
    ("baseline nearest_neighbour", "raw-pixel 1-NN"),
    ("baseline motion_nn", "motion 1-NN"),
)


# --- the LOSO models (also bench-robustness's) -------------------------------------------------------


def bench_config(overrides: list[str]) -> Config:
    """The recipe (default config + ``overrides``) as the 30-sign classifier: no sign is ``unknown``."""
    return Config.load(None, overrides).replace(unknown_share=0.0, vocabulary=(), unknown_signs=())


def ingested(data: str | Path, work: Path, config: Config) -> Path:
    """fsl105-dev's manifest with every sign a class (ingested again if an older one pooled signs)."""
    ingest = work / "ingest"
    done = read_summary(ingest)
    if not done or done.get("unknown_signs") or done.get("outside_vocabulary"):
        run_ingest([str(data)], ingest, config, progress=False)
    return ingest / "manifest.jsonl"


def categories(data: str | Path) -> dict[str, str]:
    """fsl105-dev's ``category`` of each sign (``metadata.csv``)."""
    with open(Path(data) / "metadata.csv", encoding="utf-8-sig", newline="") as stream:
        return {row["label"].strip(): row["category"].strip() for row in csv.DictReader(stream)}


def by_fold(summary: CvSummary, model: str, value) -> dict[int, list[float]]:
    """``value(row)`` of every seed's row of ``model``, per fold."""
    out: dict[int, list[float]] = defaultdict(list)
    for row in summary["folds"]:
        if row["model"] == model:
            out[row["fold"]].append(value(row))
    return dict(sorted(out.items()))


def with_validation(final: CvSummary, choosing: CvSummary) -> CvSummary:
    """The final models' summary with the validation numbers of the two-signer models (first seed)."""
    val = {(r["fold"], r["model"]): r for r in choosing["folds"]}
    for row in final["folds"]:
        row["val_accuracy"] = val[row["fold"], row["model"]]["val_accuracy"]
    for model in final["models"]:
        for stat in ("mean", "std"):
            final[stat][model]["val_accuracy"] = choosing[stat][model]["val_accuracy"]
        final["seed_std"][model]["val_accuracy"] = 0.0
    final["protocol"] += "; val INT8: the two-signer models' (first seed)"
    return final


# --- tables -----------------------------------------------------------------------------------------


def _value(row: dict, key: str) -> float:
    return row["baselines"][key[9:]] if key.startswith("baseline ") else row[key]


def fold_table(summary: CvSummary, model: str) -> str:
    """Every fold's mean over seeds, then mean ± std over folds and the seed spread."""
    seeds = len(summary["seeds"])
    lines = [
        f"| fold (test / val) | {' | '.join(title for _, title in COLUMNS)} |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    names = {
        r["fold"]: f"{r['fold']} ({', '.join(r['test'])} / {', '.join(r['val'])})" for r in summary["folds"]
    }
    for fold in by_fold(summary, model, lambda r: 0):
        cells = [
            _pct(key, np.mean(by_fold(summary, model, lambda r, key=key: _value(r, key))[fold]))
            for key, _ in COLUMNS
        ]
        lines.append(f"| {names[fold]} | " + " | ".join(cells) + " |")
    mean, std, spread = (summary[s][model] for s in ("mean", "std", "seed_std"))
    lines.append(
        "| mean ± std over folds | "
        + " | ".join(f"{_pct(k, mean[k])} ± {_pct(k, std[k], sign=False)}" for k, _ in COLUMNS)
        + " |"
    )
    if seeds > 1:
        lines.append(
            "| std over seeds (mean over folds) | "
            + " | ".join(_pct(k, spread[k], sign=False) for k, _ in COLUMNS)
            + " |"
        )
    return "\n".join(lines)


def category_table(summary: CvSummary, model: str, category_of: dict[str, str]) -> str:
    """INT8 test accuracy per category: per fold (mean over seeds) and the mean over folds."""
    kinds = sorted({category_of.get(sign, "?") for r in summary["folds"] for sign in r["per_sign"]})
    folds = list(by_fold(summary, model, lambda r: 0))
    lines = [
        "| category | signs | " + " | ".join(f"fold {k}" for k in folds) + " | **mean** | float32 mean |",
        "|---|---:|" + "---:|" * (len(folds) + 2),
    ]
    for kind in kinds:

        def accuracy(row: dict, precision: str, kind: str = kind) -> float:
            mine = [v for sign, v in row["per_sign"].items() if category_of.get(sign, "?") == kind]
            return sum(v[precision] for v in mine) / sum(v["clips"] for v in mine)

        int8 = [np.mean(v) for v in by_fold(summary, model, lambda r: accuracy(r, "int8")).values()]
        float32 = [np.mean(v) for v in by_fold(summary, model, lambda r: accuracy(r, "float32")).values()]
        signs = len({s for r in summary["folds"] for s in r["per_sign"] if category_of.get(s, "?") == kind})
        lines.append(
            f"| {kind} | {signs} | "
            + " | ".join(f"{v:.1%}" for v in int8)
            + f" | **{np.mean(int8):.1%}** | {np.mean(float32):.1%} |"
        )
    return "\n".join(lines)


def _pct(key: str, value: float, sign: bool = True) -> str:
    if key == "int8_minus_float32":
        return f"{100 * value:+.1f} pp" if sign else f"{100 * value:.1f} pp"
    return f"{value:.1%}"


# --- targets ----------------------------------------------------------------------------------------


def accuracy_checks(summary: CvSummary, model: str) -> list[tuple[str, bool]]:
    """Issue #25's accuracy targets for ``model``: on what ran (a note says when that is not the
    target's protocol of >= 3 seeds on all 4 folds)."""
    fold_means = [np.mean(v) for v in by_fold(summary, model, lambda r: r["int8_accuracy"]).values()]
    rows = [r for r in summary["folds"] if r["model"] == model]
    return [
        (
            f"LOSO mean INT8 >= {LOSO_MEAN:.0%} ({TARGET_SEEDS}-seed mean)",
            float(np.mean(fold_means)) >= LOSO_MEAN,
        ),
        (f"every fold >= {FOLD_MIN:.0%} (mean over seeds)", min(fold_means) >= FOLD_MIN),
        (
            f"agreement >= {MIN_AGREEMENT:.0%} on every fold and seed",
            all(r["agreement"] >= MIN_AGREEMENT for r in rows),
        ),
        (
            "INT8 - float >= -1 pp on every fold and seed",
            all(r["int8_minus_float32"] >= MIN_INT8_MINUS_FLOAT - 1e-9 for r in rows),
        ),
    ]


def mcu_checks(work: Path, summary: CvSummary, config: Config) -> tuple[str, list[tuple[str, bool]]]:
    """Arena, flash and MACs of fold 1's INT8 streaming pair (first seed) against the budgets."""
    first = min(r["fold"] for r in summary["folds"])
    final = "-final" if "final models" in summary["protocol"] else ""
    run = work / "recipe" / f"fold-{first}" / f"seed-{summary['seeds'][0]}{final}"
    mcu = run_mcu_check(run / "streaming" / "quantize", run / "records", work / "mcu", config)
    frame, head = mcu["parts"]["frame"], mcu["parts"]["head"]
    line = (
        f"MCU (INT8 streaming, fold {first}, seed {summary['seeds'][0]}): frame arena "
        f"{frame['arena_bytes']:,} B, head arena {head['arena_bytes']:,} B, flash {mcu['flash_bytes']:,} B, "
        f"{mcu['macs_per_frame']:,} MACs/frame"
    )
    return line, [
        ("frame arena <= 16 KB", frame["arena_bytes"] <= FRAME_ARENA),
        ("flash <= 200 KB", mcu["flash_bytes"] <= FLASH),
        ("<= 1 M MACs/frame", mcu["macs_per_frame"] <= MACS_PER_FRAME),
    ]


def print_checks(checks: list[tuple[str, bool]]) -> None:
    for target, ok in checks:
        print(f"- {target}: {'PASS' if ok else 'FAIL'}")


def ablation_table(summary: CvSummary, args: argparse.Namespace, manifest: Path, work: Path) -> str:
    chosen = args.ablations or list(ABLATIONS)
    rows = [("recipe (default config)", summary["mean"]["streaming"])]
    for name in chosen:
        ablated = bench_config([*args.set, *ABLATIONS[name]])
        slug = "-".join("".join(c for c in o if c.isalnum() or c in "=._") for o in ABLATIONS[name])
        ablation = run_cv(
            manifest, work / "ablation" / slug, ablated, ["streaming"], args.folds, summary["seeds"]
        )
        rows.append((name, ablation["mean"]["streaming"]))
    lines = [
        "| streaming recipe | val INT8 | float32 test | INT8 test | agreement | Δ val vs recipe |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = rows[0][1]["val_accuracy"]
    for name, mean in rows:
        lines.append(
            f"| {name} | {mean['val_accuracy']:.1%} | {mean['float32_accuracy']:.1%} | "
            f"{mean['int8_accuracy']:.1%} | {mean['agreement']:.1%} | "
            f"{100 * (mean['val_accuracy'] - base):+.1f} pp |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--work", default=str(ROOT / "runs" / "bench-accuracy"))
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds per fold (issue #25: 3)")
    parser.add_argument(
        "--final",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="test the fold's final model, trained on every signer but the test one (default)",
    )
    parser.add_argument("--models", nargs="+", default=["streaming", "s3dconv1d"])
    parser.add_argument("--folds", nargs="+", type=int, help="only these folds (1-4; default all)")
    parser.add_argument("--ablations", nargs="*", metavar="NAME", help="all of ABLATIONS, or these names")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: not found (the fsl105-dev set in ../shared/data)")
    work = Path(args.work)
    config = bench_config(args.set)
    started = time.perf_counter()
    manifest = ingested(args.data, work, config)
    seeds = seed_list(config, args.seeds)
    summary = run_cv(
        manifest, work / "recipe", config, args.models, args.folds, seeds[:1] if args.final else seeds
    )
    if args.final:
        final = run_cv(manifest, work / "recipe", config, args.models, args.folds, seeds, train_on_val=True)
        summary = with_validation(final, summary)

    print("\n" + to_markdown(cv_tables(summary)[1]))
    seeds = summary["seeds"]
    full = len(seeds) >= TARGET_SEEDS and summary["num_folds"] == FOLDS
    category_of = categories(args.data)
    for model in args.models:
        print(
            f"\n### {model}: sign windows of the unseen signer, each fold the mean of {len(seeds)} seed(s) "
            f"({', '.join(map(str, seeds))})\n"
        )
        print(fold_table(summary, model))
        print(f"\nINT8 test accuracy per category ({model}):\n")
        print(category_table(summary, model, category_of))
        name, accuracy = strongest(
            {k[9:]: {"accuracy": v} for k, v in summary["mean"][model].items() if k.startswith("baseline ")}
        )
        print(f"\n{model}: strongest trivial baseline {name} {accuracy:.1%}")
        checks = accuracy_checks(summary, model)
        if model == "streaming":
            line, budgets = mcu_checks(work, summary, config)
            print(line)
            checks += budgets
        print(f"\nIssue #25's targets ({model}):")
        print_checks(checks)
        if not full:
            print(
                f"  (measured on {len(seeds)} seed(s) and {summary['num_folds']} of {FOLDS} folds: the "
                f"targets are judged on >= {TARGET_SEEDS} seeds and all {FOLDS} folds)"
            )
    if args.ablations is not None:
        print("\n" + ablation_table(summary, args, manifest, work))
    print(f"\nwall time {time.perf_counter() - started:.0f} s (reused folds count as 0)")


if __name__ == "__main__":
    main()
