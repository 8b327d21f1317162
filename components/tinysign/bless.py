"""Blessing: push the new model only if it meets the thresholds and beats (or ties) the champion.

Checks (each recorded with value, threshold and verdict in ``bless.json``):

* INT8 test accuracy >= ``config.min_int8_accuracy``;
* float - INT8 accuracy <= ``config.max_int8_drop``;
* INT8 accuracy above the majority-class baseline and not below raw-pixel 1-NN (when reported);
* tensor-arena and flash bytes within ``config.arena_budget_bytes`` / ``config.flash_budget_bytes``;
* INT8 accuracy >= the current champion's (read from ``<destination>/models/champion.json``), when
  the champion was trained on the same label set.

A blessed model is copied to ``<destination>/models/<version>/`` (local folder or ``gs://``, through
:mod:`tinysign.data.storage`) and ``champion.json`` is updated last, so a crash never leaves a pointer to
a half-copied model.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinysign.artifacts import BLESS_FILE, CHAMPION_FILE, LABELS_FILE, MODELS_DIR
from tinysign.config import Config
from tinysign.data import storage
from tinysign.errors import TinysignError
from tinysign.ops.registry import register_model
from tinysign.reporting.summaries import BlessDecision, BlessSummary, Check, read_summary, write_summary
from tinysign.reporting.tables import to_markdown
from tinysign.reporting.views import BASELINE_NAMES, blessing_table, outcome_text

CHAMPION_KEYS = (
    "version",
    "model_sha256",
    "int8_accuracy",
    "float_accuracy",
    "labels",
    "decided_at",
    "pipeline_job",
    "data_version",
)


def _check(name: str, passed: bool, value: float | None, threshold: float | None, detail: str) -> Check:
    return {"name": name, "passed": passed, "value": value, "threshold": threshold, "detail": detail}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _at_least(name: str, value: float | None, threshold: float, source: str) -> Check:
    if value is None:
        return _check(name, False, None, threshold, f"not found in {source}; cannot bless without it")
    ok = value >= threshold
    return _check(name, ok, value, threshold, f"{value:.4f} {'>=' if ok else '<'} {threshold:.4f}")


def _at_most(name: str, value: float | None, threshold: float, source: str, unit: str = "") -> Check:
    if value is None:
        return _check(name, False, None, threshold, f"not found in {source}; cannot bless without it")
    ok = value <= threshold
    fmt = (lambda v: f"{int(v)}{unit}") if unit else (lambda v: f"{v:.4f}")
    return _check(name, ok, value, threshold, f"{fmt(value)} {'<=' if ok else '>'} {fmt(threshold)}")


def blessing_checks(
    evaluation: Mapping[str, Any],
    mcu: Mapping[str, Any],
    config: Config,
    champion: Mapping[str, Any] | None = None,
    labels: list[str] | None = None,
) -> list[Check]:
    """Every blessing criterion for a challenger.

    Args:
        evaluation: the evaluate stage's summary (:class:`~tinysign.reporting.summaries.EvaluateSummary`).
        mcu: the MCU check's summary (:class:`~tinysign.reporting.summaries.McuSummary`).
        config: thresholds (``min_int8_accuracy``, ``max_int8_drop``, ``*_budget_bytes``).
        champion: the current ``champion.json`` (``None`` = no champion yet).
        labels: the challenger's class names (champion comparison needs the same label set).
    """
    int8 = _number(evaluation.get("int8_accuracy"))
    float_acc = _number(evaluation.get("float32_accuracy"))
    checks = [_at_least("min INT8 accuracy", int8, config.min_int8_accuracy, "evaluation metrics")]
    drop = None if int8 is None or float_acc is None else float_acc - int8
    checks.append(
        _at_most(
            "max INT8 drop (float - INT8)",
            drop,
            config.max_int8_drop,
            "evaluation metrics (float and INT8 accuracy)",
        )
    )
    checks.append(_beats_baselines(evaluation.get("baselines") or {}, int8))
    arena, flash = _number(mcu.get("arena_bytes")), _number(mcu.get("flash_bytes"))
    checks.append(
        _at_most("tensor arena within budget", arena, config.arena_budget_bytes, "MCU metrics", " B")
    )
    checks.append(_at_most("flash within budget", flash, config.flash_budget_bytes, "MCU metrics", " B"))
    if champion:
        checks += _champion_check(champion, int8, labels)
    return checks


def _beats_baselines(baselines: Mapping[str, Any], int8: float | None) -> Check:
    """INT8 accuracy above the strongest trivial baseline (majority, raw-pixel 1-NN, motion 1-NN).

    A perfect score cannot be beaten, so 1.0 against a perfect baseline passes (easy test sets).
    """
    name = "beats the strongest trivial baseline"
    scores = {key: _number(b.get("accuracy")) for key, b in baselines.items() if isinstance(b, Mapping)}
    scores = {key: value for key, value in scores.items() if value is not None}
    if not scores or int8 is None:
        return _check(name, False, int8, None, "baselines or INT8 accuracy not found in evaluation metrics")
    best = max(scores, key=lambda key: scores[key])
    ok = int8 > scores[best] or int8 == 1.0
    label = BASELINE_NAMES.get(best, best)
    return _check(
        name, ok, int8, scores[best], f"INT8 {int8:.4f} {'>' if ok else '<='} {label} {scores[best]:.4f}"
    )


def _champion_check(champion: Mapping[str, Any], int8: float | None, labels: list[str] | None) -> list[Check]:
    champ = _number(champion.get("int8_accuracy"))
    name = "not worse than champion"
    if labels is not None and champion.get("labels") not in (None, labels):
        detail = (
            f"champion {champion.get('version')} has another label set; "
            "accuracies are not comparable, comparison skipped"
        )
        return [_check(name, True, int8, champ, detail)]
    if champ is None or int8 is None:
        return []
    ok = int8 >= champ
    detail = f"INT8 {int8:.4f} {'>=' if ok else '<'} champion {champion.get('version')} {champ:.4f}"
    return [_check(name, ok, int8, champ, detail)]


def model_digest(quant_dir: str | Path) -> str:
    """sha256 over the ``.tflite`` files of a quantize output (names and bytes, sorted)."""
    files = sorted(Path(quant_dir).glob("*.tflite"))
    if not files:
        raise TinysignError(f"{quant_dir}: no .tflite files; run `tinysign quantize` first")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_champion(destination: str) -> dict[str, Any] | None:
    """``<destination>/models/champion.json`` (``None`` when there is no champion yet)."""
    if not destination:
        return None
    path = storage.join(destination, MODELS_DIR, CHAMPION_FILE)
    if not storage.exists(path):
        return None
    try:
        return json.loads(storage.read_text(path))
    except json.JSONDecodeError:
        raise TinysignError(f"{path}: not valid JSON; fix or delete it to reset the champion") from None


def _copy_tree(source: Path, target: str) -> list[str]:
    """Copy every file under ``source`` to ``target`` (local or gs://); return the written paths."""
    written = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        destination = storage.join(target, *path.relative_to(source).parts)
        with open(path, "rb") as src, storage.open_write(destination) as dst:
            shutil.copyfileobj(src, dst)
        written.append(destination)
    return written


def run_bless(
    quant_dir: str | Path,
    eval_dir: str | Path,
    mcu_dir: str | Path,
    out_dir: str | Path,
    config: Config,
    destination: str = "",
    version: str = "",
    registry: str = "",
    vertex: Mapping[str, Any] | None = None,
    lineage: Mapping[str, str] | None = None,
) -> BlessDecision:
    """Decide, record and (if blessed) push; write ``bless.json`` + ``metrics.json`` to ``out_dir``.

    Args:
        quant_dir: quantize output (``*.tflite``, ``labels.txt``): what gets pushed.
        eval_dir: evaluate output (its summary; pushed as ``evaluation/``).
        mcu_dir: MCU check output (its summary, C arrays; pushed as ``mcu/``).
        out_dir: where ``bless.json`` goes.
        config: thresholds and budgets.
        destination: folder or ``gs://`` URI holding ``models/``; empty = decide and record only.
        version: the pushed folder's name (default ``<UTC time>-<model sha256[:8]>``).
        registry: ``projects/<project>/locations/<region>``: also upload a pushed ``gs://`` model
            to that Vertex AI Model Registry (a new version of model ``tinysign``); empty = no.
        vertex: ``credentials`` / ``api_endpoint`` for the registry client (tests: loopback).
        lineage: ``pipeline_job`` and ``data_version`` (the data fingerprint) of this run, recorded
            in the decision, ``champion.json`` and the registry version.

    Returns:
        The decision (:class:`~tinysign.reporting.summaries.BlessDecision`): ``blessed``, ``outcome``
        (``pushed`` | ``unchanged`` | ``kept_local`` | ``refused``), every check, the champion before.
    """
    quant, evaluation_dir, mcu_path = Path(quant_dir), Path(eval_dir), Path(mcu_dir)
    evaluation = read_summary(evaluation_dir)
    mcu = read_summary(mcu_path)
    digest = model_digest(quant)
    now = datetime.datetime.now(datetime.UTC)
    version = version or f"{now:%Y%m%d-%H%M%S}-{digest[:8]}"
    labels = _labels(quant, evaluation)
    champion = read_champion(destination)
    checks = blessing_checks(evaluation, mcu, config, champion, labels)
    blessed = all(c["passed"] for c in checks)
    model_uri = storage.join(destination, MODELS_DIR, version) if destination else ""
    if not blessed:
        outcome = "refused"
    elif not destination:
        outcome = "kept_local"
    elif champion and champion.get("model_sha256") == digest:
        outcome, model_uri = "unchanged", str(champion.get("uri", ""))
    else:
        outcome = "pushed"
    decision: BlessDecision = {
        "blessed": blessed,
        "pushed": outcome == "pushed",
        "outcome": outcome,
        "version": version,
        "model_uri": model_uri,
        "destination": destination,
        "model_sha256": digest,
        "decided_at": now.isoformat(timespec="seconds"),
        "checks": checks,
        "champion": champion,
        "int8_accuracy": _number(evaluation.get("int8_accuracy")),
        "float_accuracy": _number(evaluation.get("float32_accuracy")),
        "labels": labels,
        "config": config.to_dict(),
        "measured": _measured(evaluation, mcu),
        "pipeline_job": (lineage or {}).get("pipeline_job", ""),
        "data_version": (lineage or {}).get("data_version", ""),
    }
    decision["reasons"] = [f"{'ok' if c['passed'] else 'FAIL'}: {c['name']}: {c['detail']}" for c in checks]
    decision["reasons"].append(("blessed: " if blessed else "") + outcome_text(decision))
    if decision["pushed"]:
        _copy_model(quant, evaluation_dir, mcu_path, model_uri)
        if registry:
            decision["registered_model"] = register_model(decision, registry, config.image, **(vertex or {}))
            decision["reasons"].append(
                f"registered in Vertex AI Model Registry: {decision['registered_model']}"
            )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(decision, indent=2, default=str) + "\n"
    (out / BLESS_FILE).write_text(text)
    summary: BlessSummary = {
        "blessed": blessed,
        "pushed": decision["pushed"],
        "checks_failed": sum(not c["passed"] for c in checks),
    }
    write_summary(out, summary)
    if decision["pushed"]:
        storage.write_text(storage.join(model_uri, BLESS_FILE), text)
        champion_record = {k: decision[k] for k in CHAMPION_KEYS}  # type: ignore[literal-required]
        storage.write_text(  # last: the pointer moves only once the model is complete
            storage.join(destination, MODELS_DIR, CHAMPION_FILE),
            json.dumps({**champion_record, "uri": model_uri}, indent=2) + "\n",
        )
    return decision


def _measured(evaluation: Mapping[str, Any], mcu: Mapping[str, Any]) -> dict[str, Any]:
    """What the decision was made on, for comparing runs (``tinysign runs``)."""
    return {
        "model": evaluation.get("model"),
        "prediction_agreement": evaluation.get("prediction_agreement"),
        "baselines": {name: b.get("accuracy") for name, b in (evaluation.get("baselines") or {}).items()},
        "strongest_baseline": evaluation.get("strongest_baseline"),
        "arena_bytes": mcu.get("arena_bytes"),
        "flash_bytes": mcu.get("flash_bytes"),
        "total_sram_bytes": mcu.get("total_sram_bytes"),
    }


def _labels(quant_dir: Path, evaluation: Mapping[str, Any]) -> list[str] | None:
    path = quant_dir / LABELS_FILE
    if path.is_file():
        return [line for line in path.read_text().splitlines() if line]
    found = evaluation.get("labels")
    return list(found) if isinstance(found, list) else None


def _copy_model(quant: Path, eval_dir: Path, mcu_dir: Path, model_uri: str) -> None:
    _copy_tree(quant, model_uri)
    _copy_tree(eval_dir, storage.join(model_uri, "evaluation"))
    _copy_tree(mcu_dir, storage.join(model_uri, "mcu"))


def decision_markdown(decision: BlessDecision, path: str | Path) -> Path:
    """The decision as Markdown (KFP UI ``Markdown`` artifact): the checks table and the outcome."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_markdown(blessing_table(decision)))
    return out


# --- CLI --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quant", required=True, help="quantize output folder (*.tflite, labels.txt)")
    parser.add_argument("--eval", required=True, dest="eval_dir", help="evaluate output folder")
    parser.add_argument("--mcu", required=True, help="MCU check output folder")
    parser.add_argument("--out", required=True, help="folder for bless.json")
    parser.add_argument(
        "--destination",
        default="",
        help="where blessed models go: folder or gs://bucket/path (models/<version>/)",
    )
    parser.add_argument("--version", default="", help="version folder name (default <UTC time>-<sha>)")


def run(args: argparse.Namespace, config: Config) -> int:
    decision = run_bless(
        args.quant, args.eval_dir, args.mcu, args.out, config, args.destination, args.version
    )
    print("\n".join(decision["reasons"]))
    return 0 if decision["blessed"] else 1
