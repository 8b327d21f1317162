"""Cross-validation by group: extract -> train -> quantize -> evaluate once per fold, then mean ± std.

``tinysign cv --manifest runs/ingest/manifest.jsonl --out runs/cv [--models streaming s3dconv1d]``
runs leave-one-signer-out when every clip has a signer (fold k tests signer k and validates on signer
k+1, never the test one), else ``--set folds=K`` folds of whole source videos (default 5). One small
test split is too noisy to steer by (18 clips = 5.6 pp a clip); the mean over folds, with the trivial
baselines and the INT8/float agreement of every fold beside it, is what to compare recipes on.

This module is a workflow, not a stage: it composes the stage functions, as the pipeline does. A
rerun reuses every fold/model whose evaluation is complete for the same config (so an interrupted
run continues), and training itself resumes after a kill.

Writes ``OUT/fold-<k>/{manifest.jsonl,records,<model>/{train,quantize,evaluate}}``, ``OUT/metrics.json``
(:class:`~tinysign.summaries.CvSummary`), ``OUT/cv_report.md`` and ``OUT/report.html``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.artifacts import CV_REPORT_MD, MANIFEST_FILE, REPORT_FILE
from tinysign.config import MODEL_NAMES, Config
from tinysign.console import Progress
from tinysign.data.manifest import Clip, read_manifest
from tinysign.data.splits import Fold, cv_folds
from tinysign.errors import TinysignError
from tinysign.evaluate import run_evaluate
from tinysign.extract import run_extract
from tinysign.model.baselines import strongest
from tinysign.quantize import run_quantize
from tinysign.reporting import html
from tinysign.reporting.tables import to_html, to_markdown
from tinysign.reporting.views import cv_tables
from tinysign.summaries import CvFold, CvSummary, read_summary, write_summary
from tinysign.train import run_train

DONE_FILE = "cv_done.json"
AVERAGED = ("val_accuracy", "float32_accuracy", "int8_accuracy", "int8_minus_float32", "agreement")


def fold_manifest(rows: list[dict[str, Any]], fold: Fold, path: Path) -> Path:
    """The manifest rows with this fold's splits (label indices unchanged: every fold has every class)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        for row in rows:
            stream.write(json.dumps({**row, "split": fold.splits[row["clip_id"]]}, ensure_ascii=False) + "\n")
    return path


def _clips(rows: list[dict[str, Any]]) -> list[Clip]:
    names = {f.name for f in fields(Clip)}
    return [Clip(**{k: v for k, v in row.items() if k in names}) for row in rows]


FOLD_STAGES = ("train", "quantize", "evaluate")  # per model and fold, after the fold's extraction


def run_fold_model(
    records: Path, out: Path, config: Config, stage_done: Callable[[str], None] = lambda stage: None
) -> dict[str, Any]:
    """Train, quantize and evaluate one model on one fold's records; reuse a finished run.
    ``stage_done`` is told each of :data:`FOLD_STAGES` as it ends."""
    done = out / DONE_FILE
    if done.is_file() and json.loads(done.read_text()).get("config") == config.to_dict():
        for stage in FOLD_STAGES:
            stage_done(f"{stage} (reused)")
        return json.loads(done.read_text())["result"]
    started = time.perf_counter()
    trained = run_train(records, out / "train", config)
    stage_done("train")
    run_quantize(out / "train", records, out / "quantize", config)
    stage_done("quantize")
    evaluation = run_evaluate(out / "quantize", records, out / "evaluate", config)
    stage_done("evaluate")
    result = {
        "val_accuracy": trained["best_val_accuracy"],
        "float32_accuracy": evaluation["float32_accuracy"],
        "int8_accuracy": evaluation["int8_accuracy"],
        "int8_minus_float32": evaluation["accuracy_delta"],
        "agreement": evaluation["prediction_agreement"],
        "baselines": {name: b["accuracy"] for name, b in evaluation["baselines"].items()},
        "test_clips": evaluation["num_test_clips"],
        "epochs_run": trained["epochs_run"],
        "best_epoch": trained["best_epoch"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    done.write_text(json.dumps({"config": config.to_dict(), "result": result}, indent=1) + "\n")
    return result


def run_cv(
    manifest: str | Path,
    out_dir: str | Path,
    config: Config,
    models: list[str] | None = None,
    only_folds: list[int] | None = None,
) -> CvSummary:
    """Cross-validate ``models`` (default ``config.model``) on the clips of ``manifest``.

    Args:
        manifest: an ingest ``manifest.jsonl`` (its own split is ignored).
        out_dir: folder for every fold's outputs and the summary.
        config: the recipe; ``folds`` (0 = leave-one-signer-out, or 5 without signers), ``seed``.
        models: model names to compare on the same folds.
        only_folds: run only these folds (1-based; default all), e.g. one fold for a quick check.

    Returns:
        The summary: per fold and model the val / float32 / INT8 accuracy, agreement and baselines;
        per model the mean and standard deviation over folds.
    """
    models = models or [config.model]
    out = Path(out_dir)
    rows = read_manifest(manifest)
    folds = cv_folds(_clips(rows), config.folds, config.seed)
    signers = all(r.get("signer") for r in rows)
    protocol = (
        "leave-one-signer-out"
        if signers and not config.folds
        else f"{len(folds)} folds by {'signer' if signers else 'source video'} groups"
    )
    chosen = sorted(set(only_folds or range(1, len(folds) + 1)))
    if chosen[0] < 1 or chosen[-1] > len(folds):
        raise TinysignError(f"folds {chosen}: this data has folds 1..{len(folds)}")
    if len(chosen) < len(folds):
        protocol += f", fold(s) {', '.join(map(str, chosen))} of {len(folds)}"
    print(f"cv: {protocol}, models {', '.join(models)}", flush=True)
    fold_rows: list[CvFold] = []
    shown = Progress("cv", len(chosen) * (1 + len(FOLD_STAGES) * len(models)), "stages")
    for k, fold in enumerate(folds, start=1):
        if k not in chosen:
            continue
        fold_dir = out / f"fold-{k}"
        records = fold_dir / "records"
        if not read_summary(records):
            run_extract(fold_manifest(rows, fold, fold_dir / MANIFEST_FILE), records, config)
        shown.step(f"fold {k} of {len(folds)} ({fold.name}): extract")
        for model in models:
            result = run_fold_model(
                records,
                fold_dir / model,
                config.replace(model=model),
                lambda stage, k=k, model=model: shown.step(f"fold {k} of {len(folds)}, {model}: {stage}"),
            )
            fold_rows.append(
                {
                    "fold": k,
                    "name": fold.name,
                    "test": list(fold.test),
                    "val": list(fold.val),
                    "model": model,
                    **result,
                }
            )  # type: ignore[typeddict-item]
            name, accuracy = strongest({n: {"accuracy": a} for n, a in result["baselines"].items()})
            print(
                f"cv: fold {k} ({fold.name}, val {', '.join(fold.val)}) {model}: val "
                f"{result['val_accuracy']:.3f} test float32 {result['float32_accuracy']:.3f} INT8 "
                f"{result['int8_accuracy']:.3f} agreement {result['agreement']:.3f}; strongest baseline "
                f"{name} {accuracy:.3f}",
                flush=True,
            )
    shown.close()
    summary: CvSummary = {
        "protocol": protocol,
        "num_folds": len(chosen),
        "models": models,
        "folds": fold_rows,
        "mean": {m: _stats(fold_rows, m, np.mean) for m in models},
        "std": {m: _stats(fold_rows, m, np.std) for m in models},
        "config": config.to_dict(),
    }
    write_summary(out, summary)
    tables = cv_tables(summary)
    (out / CV_REPORT_MD).write_text("\n".join(to_markdown(t) for t in tables))
    (out / REPORT_FILE).write_text(
        html.page(
            "tinysign cross-validation", protocol, [("Cross-validation", "".join(to_html(t) for t in tables))]
        )
    )
    return summary


def _stats(rows: list[CvFold], model: str, reduce: Any) -> dict[str, float]:
    mine = [r for r in rows if r["model"] == model]
    values = {key: float(reduce([r[key] for r in mine])) for key in AVERAGED}  # type: ignore[literal-required]
    for name in mine[0]["baselines"]:
        values[f"baseline {name}"] = float(reduce([r["baselines"][name] for r in mine]))
    values["strongest baseline"] = float(reduce([max(r["baselines"].values()) for r in mine]))
    return values


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="manifest.jsonl written by `tinysign ingest`")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (rerun to continue)")
    parser.add_argument(
        "--models", nargs="+", choices=MODEL_NAMES, help="models to compare (default: --set model)"
    )
    parser.add_argument("--folds", nargs="+", type=int, metavar="K", help="only these folds (1-based)")


def run(args: argparse.Namespace, config: Config) -> int:
    summary = run_cv(args.manifest, args.out, config, args.models, args.folds)
    print(to_markdown(cv_tables(summary)[0]))
    print(f"cv: wrote {Path(args.out) / CV_REPORT_MD} and {Path(args.out) / REPORT_FILE}")
    return 0
