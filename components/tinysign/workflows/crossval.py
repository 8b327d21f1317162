"""Cross-validation by group: extract -> train -> quantize -> evaluate once per fold, then mean ± std.

``tinysign cv --manifest runs/ingest/manifest.jsonl --out runs/cv [--models streaming s3dconv1d]``
runs leave-one-signer-out when every clip has a signer (fold k tests signer k and validates on signer
k+1, never the test one), else ``--set folds=K`` folds of whole source videos (default 5). One small
test split is too noisy to steer by (18 clips = 5.6 pp a clip); the mean over folds, with the trivial
baselines and the INT8/float agreement of every fold beside it, is what to compare recipes on.

Accuracy is measured on the **sign windows** (records of vocabulary signs; not the ``rest`` windows
nor the ``unknown`` class) of the test signer and, for choosing a recipe, of the validation signer:
INT8 and float32 along the deployment path (:func:`tinysign.evaluate.score_test_clips`), with the
trivial baselines on the same windows and the hits per sign (for per-category tables).

``--seeds N`` (``seeds=`` in :func:`run_cv`) trains every fold N times, with ``seed``, ``seed + 1``, ...
(the extraction's draws, the weights' initialisation, the online augmentation): one seed's run differs
from the next by a few points, so a recipe is judged on their mean. The folds themselves are drawn
once, with ``seed``.

This module is a workflow, not a stage: it composes the stage functions, as the pipeline does. A
rerun reuses every fold/seed/model whose evaluation is complete for the same config (so an
interrupted run continues), the trained model when only quantize's or evaluation's keys changed (it
is quantized again), the quantized one too when only evaluation's changed (the recognizer), records
extracted with the same extraction keys, and training itself resumes after a kill.

Writes ``OUT/fold-<k>/manifest.jsonl``, ``OUT/fold-<k>/seed-<s>/{records,<model>/{train,quantize,
evaluate}}``, ``OUT/metrics.json`` (:class:`~tinysign.summaries.CvSummary`), ``OUT/cv_report.md`` and
``OUT/report.html``.
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
from tinysign.config import MODEL_NAMES, SILENT_LABELS, Config
from tinysign.console import Progress
from tinysign.data.manifest import Clip, read_manifest
from tinysign.data.records import ClipRecord
from tinysign.data.splits import Fold, cv_folds
from tinysign.errors import TinysignError
from tinysign.evaluate import run_evaluate, score_test_clips
from tinysign.extract import run_extract
from tinysign.model.baselines import strongest
from tinysign.model.files import load_quantized
from tinysign.quantize import run_quantize
from tinysign.reporting import html
from tinysign.reporting.tables import to_html, to_markdown
from tinysign.reporting.views import cv_tables
from tinysign.summaries import CvFold, CvSummary, read_summary, write_summary
from tinysign.train import run_train

DONE_FILE = "cv_done.json"
TRAINED_BY = ("ingest", "extract", "train")  # what a fold's trained model depends on
MODEL_STAGES = (*TRAINED_BY, "quantize")  # ... and its quantized one
EXTRACTED_FILE = "cv_extracted.json"  # the extraction keys a fold's records were made with
AVERAGED = ("val_accuracy", "float32_accuracy", "int8_accuracy", "int8_minus_float32", "agreement")


def fold_manifest(rows: list[dict[str, Any]], fold: Fold, path: Path, train_on_val: bool = False) -> Path:
    """The manifest rows with this fold's splits (label indices unchanged: every fold has every class);
    with ``train_on_val`` the validation signer trains too (no val split: the final model of a fold)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as stream:
        for row in rows:
            split = fold.splits[row["clip_id"]]
            split = "train" if train_on_val and split == "val" else split
            stream.write(json.dumps({**row, "split": split}, ensure_ascii=False) + "\n")
    return path


def _clips(rows: list[dict[str, Any]]) -> list[Clip]:
    names = {f.name for f in fields(Clip)}
    return [Clip(**{k: v for k, v in row.items() if k in names}) for row in rows]


FOLD_STAGES = ("train", "quantize", "evaluate")  # per model, fold and seed, after the extraction


def run_fold_model(
    records: Path, out: Path, config: Config, stage_done: Callable[[str], None] = lambda stage: None
) -> dict[str, Any]:
    """Train, quantize and evaluate one model on one fold's records; reuse a finished run.
    ``stage_done`` is told each of :data:`FOLD_STAGES` as it ends."""
    done = out / DONE_FILE
    previous = json.loads(done.read_text()) if done.is_file() else {}
    if previous.get("config") == config.to_dict():
        for stage in FOLD_STAGES:
            stage_done(f"{stage} (reused)")
        return previous["result"]
    started = time.perf_counter()
    done.unlink(missing_ok=True)
    trained = read_summary(out / "train") if _same_stages(previous, config, TRAINED_BY) else None
    retrained = not trained
    if trained:
        stage_done("train (reused)")
    else:
        trained = run_train(records, out / "train", config)
        stage_done("train")
    if not retrained and _same_stages(previous, config, MODEL_STAGES) and read_summary(out / "quantize"):
        stage_done("quantize (reused)")  # only the recognizer changed
    else:
        run_quantize(out / "train", records, out / "quantize", config)
        stage_done("quantize")
    run_evaluate(out / "quantize", records, out / "evaluate", config)  # reports, plots, spotting
    test = sign_windows(out / "quantize", records, "test")
    val = sign_windows(out / "quantize", records, "val") if trained["examples"]["val"] else None
    stage_done("evaluate")
    result = {
        "val_accuracy": val["int8_accuracy"] if val else None,
        "val_float32_accuracy": val["float32_accuracy"] if val else None,
        **test,
        "epochs_run": trained["epochs_run"],
        "best_epoch": trained["best_epoch"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    done.write_text(json.dumps({"config": config.to_dict(), "result": result}, indent=1) + "\n")
    return result


def _same_stages(previous: dict[str, Any], config: Config, stages: tuple[str, ...]) -> bool:
    """Whether a finished fold's ``stages`` read the same keys as ``config`` would (records are per fold,
    extracted with the same keys); a key the fold's config lacks (added since) counts as changed."""
    before = previous.get("config", {})
    return all(
        all(key in before and before[key] == value for key, value in config.for_stage(stage).items())
        for stage in stages
    )


def is_sign_window(record: ClipRecord) -> bool:
    """A window of a vocabulary sign (not ``rest``, not the ``unknown`` class)."""
    return record.label_name not in SILENT_LABELS


def sign_windows(quant_dir: Path, records: Path, split: str) -> dict[str, Any]:
    """INT8 and float32 accuracy, INT8 - float, agreement, baselines and hits per sign on the sign
    windows of ``split``."""
    quant = load_quantized(quant_dir)
    scores = score_test_clips(quant, records, split, keep=is_sign_window)
    labels = np.asarray(scores.labels)
    predicted = {precision: raw.argmax(axis=1) for precision, raw in scores.raw.items()}
    hits = {precision: p == labels for precision, p in predicted.items()}
    per_sign = {
        quant.labels[label]: {
            "clips": int(np.sum(labels == label)),
            **{precision: int(np.sum(h[labels == label])) for precision, h in hits.items()},
        }
        for label in sorted(set(scores.labels))
    }
    return {
        "float32_accuracy": float(hits["float32"].mean()),
        "int8_accuracy": float(hits["int8"].mean()),
        "int8_minus_float32": float(hits["int8"].mean() - hits["float32"].mean()),
        "agreement": float(np.mean(predicted["int8"] == predicted["float32"])),
        "baselines": {name: b["accuracy"] for name, b in scores.baselines.items()},
        "test_clips": len(labels),
        "per_sign": per_sign,
    }


def extracted(manifest: Path, records: Path, config: Config) -> Path:
    """``records`` extracted from ``manifest`` — reused when made with the same extraction keys."""
    keys = config.for_stage("extract")
    marker = records.parent / EXTRACTED_FILE
    if read_summary(records) and marker.is_file() and json.loads(marker.read_text()) == keys:
        return records
    marker.unlink(missing_ok=True)
    run_extract(manifest, records, config)
    marker.write_text(json.dumps(keys, indent=1) + "\n")
    return records


def seed_list(config: Config, count: int) -> list[int]:
    """``count`` seeds from the config's: ``seed``, ``seed + 1``, ..."""
    if count < 1:
        raise TinysignError(f"--seeds {count}: need at least one seed")
    return [config.seed + i for i in range(count)]


def run_cv(
    manifest: str | Path,
    out_dir: str | Path,
    config: Config,
    models: list[str] | None = None,
    only_folds: list[int] | None = None,
    seeds: list[int] | None = None,
    train_on_val: bool = False,
) -> CvSummary:
    """Cross-validate ``models`` (default ``config.model``) on the clips of ``manifest``.

    Args:
        manifest: an ingest ``manifest.jsonl`` (its own split is ignored).
        out_dir: folder for every fold's outputs and the summary.
        config: the recipe; ``folds`` (0 = leave-one-signer-out, or 5 without signers), ``seed``.
        models: model names to compare on the same folds.
        only_folds: run only these folds (1-based; default all), e.g. one fold for a quick check.
        seeds: train every fold once per seed (default ``[config.seed]``); the folds are drawn with
            ``config.seed`` whatever the seeds.
        train_on_val: the final models: the validation signer trains too (every signer but the test one,
            no val split, the whole schedule); choose recipes on the runs without it.

    Returns:
        The summary: per fold, seed and model the val / float32 / INT8 accuracy on sign windows,
        agreement and baselines; per model the mean over folds of each fold's mean over seeds, its
        standard deviation over folds (``std``) and the mean over folds of the standard deviation over
        seeds (``seed_std``, the run-to-run spread).
    """
    models = models or [config.model]
    seeds = seeds or [config.seed]
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
    if len(seeds) > 1:
        protocol += f", {len(seeds)} seeds ({', '.join(map(str, seeds))})"
    if train_on_val:
        protocol += ", final models: the validation signer trains too"
    print(f"cv: {protocol}, models {', '.join(models)}", flush=True)
    fold_rows: list[CvFold] = []
    shown = Progress("cv", len(seeds) * len(chosen) * (1 + len(FOLD_STAGES) * len(models)), "stages")
    for seed in seeds:  # every fold with one seed first: an interrupted run has whole seeds
        seeded = config.replace(seed=seed)
        for k, fold in enumerate(folds, start=1):
            if k not in chosen:
                continue
            final = "-final" if train_on_val else ""
            run_dir = out / f"fold-{k}" / f"seed-{seed}{final}"
            manifest_path = out / f"fold-{k}" / MANIFEST_FILE.replace(".jsonl", f"{final}.jsonl")
            records = extracted(
                fold_manifest(rows, fold, manifest_path, train_on_val), run_dir / "records", seeded
            )
            where = f"fold {k} of {len(folds)}, seed {seed}"
            shown.step(f"{where}: extract")
            for model in models:
                result = run_fold_model(
                    records,
                    run_dir / model,
                    seeded.replace(model=model),
                    lambda stage, where=where, model=model: shown.step(f"{where}, {model}: {stage}"),
                )
                fold_rows.append(
                    {
                        "fold": k,
                        "seed": seed,
                        "name": fold.name,
                        "test": list(fold.test),
                        "val": list(fold.val),
                        "model": model,
                        **result,
                    }
                )  # type: ignore[typeddict-item]
                name, accuracy = strongest({n: {"accuracy": a} for n, a in result["baselines"].items()})
                print(
                    f"cv: fold {k} ({fold.name}, val {', '.join(fold.val)}) seed {seed} {model}: val INT8 "
                    f"{_fmt(result['val_accuracy'])} test float32 {result['float32_accuracy']:.3f} INT8 "
                    f"{result['int8_accuracy']:.3f} agreement {result['agreement']:.3f}; strongest baseline "
                    f"{name} {accuracy:.3f}",
                    flush=True,
                )
    shown.close()
    fold_rows.sort(key=lambda r: (r["fold"], r["seed"], models.index(r["model"])))
    stats = {m: _stats(fold_rows, m) for m in models}
    summary: CvSummary = {
        "protocol": protocol,
        "num_folds": len(chosen),
        "seeds": seeds,
        "models": models,
        "folds": fold_rows,
        "mean": {m: stats[m][0] for m in models},
        "std": {m: stats[m][1] for m in models},
        "seed_std": {m: stats[m][2] for m in models},
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


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _stats(rows: list[CvFold], model: str) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """(mean over folds, std over folds, mean over folds of the std over seeds) of each fold's values
    averaged over its seeds."""
    mine = [r for r in rows if r["model"] == model]
    values = {key: [r[key] for r in mine] for key in AVERAGED if mine[0][key] is not None}  # type: ignore[literal-required]
    for name in mine[0]["baselines"]:
        values[f"baseline {name}"] = [r["baselines"][name] for r in mine]
    values["strongest baseline"] = [max(r["baselines"].values()) for r in mine]
    folds = np.array([r["fold"] for r in mine])
    mean, std, seed_std = {}, {}, {}
    for key, column in values.items():
        per_fold = [np.asarray(column)[folds == k] for k in sorted(set(folds))]
        mean[key] = float(np.mean([f.mean() for f in per_fold]))
        std[key] = float(np.std([f.mean() for f in per_fold]))
        seed_std[key] = float(np.mean([f.std() for f in per_fold]))
    return mean, std, seed_std


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="manifest.jsonl written by `tinysign ingest`")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (rerun to continue)")
    parser.add_argument(
        "--models", nargs="+", choices=MODEL_NAMES, help="models to compare (default: --set model)"
    )
    parser.add_argument("--folds", nargs="+", type=int, metavar="K", help="only these folds (1-based)")
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="N", help="train every fold with N seeds: seed, seed + 1, ..."
    )


def run(args: argparse.Namespace, config: Config) -> int:
    summary = run_cv(args.manifest, args.out, config, args.models, args.folds, seed_list(config, args.seeds))
    print(to_markdown(cv_tables(summary)[0]))
    print(f"cv: wrote {Path(args.out) / CV_REPORT_MD} and {Path(args.out) / REPORT_FILE}")
    return 0
