"""Blessing: push the new model only if it meets the thresholds and beats (or ties) the champion.

Checks (each recorded with value, threshold and verdict in ``bless.json``):

* INT8 test accuracy >= ``config.min_int8_accuracy``;
* float - INT8 accuracy <= ``config.max_int8_drop``;
* INT8 accuracy above the majority-class baseline and not below raw-pixel 1-NN (when reported);
* tensor-arena and flash bytes within ``config.arena_budget_bytes`` / ``config.flash_budget_bytes``;
* INT8 accuracy >= the current champion's (read from ``<destination>/models/champion.json``), when
  the champion was trained on the same label set.

:func:`decide` makes the decision (pure: it reads and writes nothing); :func:`push_champion` copies a
blessed model to ``<destination>/models/<version>/`` (local folder or ``gs://``, through
:mod:`tinysign.data.storage`) and moves ``champion.json`` last, so a crash never leaves a pointer to a
half-copied model. The move is a compare-and-set: it succeeds only if
``champion.json`` is still the one the decision was made against (a lock locally, a generation
precondition on ``gs://``). A run that loses the race to a concurrent bless compares again with the new
champion: if it is no longer better it is refused and its copied folder removed, so two runs at once
never leave the worse model as champion.

Longer than our ~400-line guideline on purpose: deciding and pushing share the champion's record and
the decision's checks, and the compare-and-set retry decides again; keeping them together keeps that
loop readable in one place.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinysign.artifacts import BLESS_FILE, CHAMPION_FILE, LABELS_FILE, MODELS_DIR
from tinysign.config import Config
from tinysign.data import storage
from tinysign.errors import TinysignError
from tinysign.ops.registry import register_model
from tinysign.reporting.tables import to_markdown
from tinysign.reporting.views import BASELINE_NAMES, blessing_table, outcome_text
from tinysign.summaries import (
    BlessDecision,
    BlessSummary,
    Check,
    read_decision,
    read_summary,
    stamped,
    write_summary,
)

CHAMPION_TRIES = 20  # compare-and-set attempts before giving up (each lost one means another run moved it)
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
        evaluation: the evaluate stage's summary (:class:`~tinysign.summaries.EvaluateSummary`).
        mcu: the MCU check's summary (:class:`~tinysign.summaries.McuSummary`).
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
    checks += _spotting_checks(evaluation.get("spotting"), config)
    if champion:
        checks += _champion_check(champion, int8, labels)
    return checks


def _spotting_checks(spotting: Mapping[str, Any] | None, config: Config) -> list[Check]:
    """Live spotting on the test streams (streaming models): precision of what is said, false emissions
    per minute of rest. A whole-clip model is not spotted, so it has no such checks."""
    if spotting is None:
        return []
    source = "the evaluation's spotting metrics"
    return [
        _at_least(
            "spotting precision", _number(spotting.get("precision")), config.min_spot_precision, source
        ),
        _at_most(
            "false emissions per minute of rest",
            _number(spotting.get("false_per_minute")),
            config.max_false_per_minute,
            source,
        ),
    ]


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


def read_champion(destination: str) -> tuple[dict[str, Any] | None, str]:
    """``<destination>/models/champion.json`` (``None`` when there is no champion yet) and its
    generation, for the compare-and-set of :func:`move_champion`."""
    if not destination:
        return None, storage.ABSENT
    path = storage.join(destination, MODELS_DIR, CHAMPION_FILE)
    text, generation = storage.read_generation(path)
    if text is None:
        return None, generation
    try:
        return json.loads(text), generation
    except json.JSONDecodeError:
        raise TinysignError(f"{path}: not valid JSON; fix or delete it to reset the champion") from None


@stamped("bless")
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
    push_model: bool = True,
) -> BlessDecision:
    """Decide, (if blessed) push, and record; write ``bless.json`` + ``metrics.json`` to ``out_dir``.

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
        push_model: push here when the decision says so; ``False``: decide and record only, and let
            :func:`run_push` push (the pipeline's push step, behind a ``dsl.If`` on the outcome).

    Returns:
        The decision (:class:`~tinysign.summaries.BlessDecision`): ``blessed``, ``outcome``
        (``pushed`` | ``unchanged`` | ``kept_local`` | ``refused``), every check, the champion before.
    """
    quant, evaluation_dir, mcu_path = Path(quant_dir), Path(eval_dir), Path(mcu_dir)
    evaluation = read_summary(evaluation_dir)
    decision = decide(
        evaluation,
        read_summary(mcu_path),
        config,
        champion=read_champion(destination)[0],
        labels=_labels(quant, evaluation),
        digest=model_digest(quant),
        now=datetime.datetime.now(datetime.UTC),
        destination=destination,
        version=version,
        lineage=lineage,
    )
    if decision["pushed"] and push_model:
        decision = push_champion(decision, quant, evaluation_dir, mcu_path, config, registry, vertex)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / BLESS_FILE).write_text(_decision_json(decision))
    summary: BlessSummary = {
        "blessed": decision["blessed"],
        "pushed": decision["pushed"],
        "checks_failed": sum(not c["passed"] for c in decision["checks"]),
    }
    write_summary(out, summary)
    return decision


def run_push(
    bless_dir: str | Path,
    quant_dir: str | Path,
    eval_dir: str | Path,
    mcu_dir: str | Path,
    out_dir: str | Path,
    config: Config,
    registry: str = "",
    vertex: Mapping[str, Any] | None = None,
) -> BlessDecision:
    """Push what :func:`run_bless` (``push_model=False``) decided to push; write the decision as pushed
    (with its Model Registry version) to ``out_dir/bless.json``."""
    decision = read_decision(bless_dir)
    if decision is None or not decision.get("pushed"):
        raise TinysignError(f"{bless_dir}: no decision to push a model; run `tinysign bless` first")
    quant, evaluation, mcu = Path(quant_dir), Path(eval_dir), Path(mcu_dir)
    decision = push_champion(decision, quant, evaluation, mcu, config, registry, vertex)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / BLESS_FILE).write_text(_decision_json(decision))
    return decision


def decide(
    evaluation: Mapping[str, Any],
    mcu: Mapping[str, Any],
    config: Config,
    *,
    champion: Mapping[str, Any] | None,
    labels: list[str] | None,
    digest: str,
    now: datetime.datetime,
    destination: str = "",
    version: str = "",
    lineage: Mapping[str, str] | None = None,
) -> BlessDecision:
    """The blessing decision on a challenger — pure: no file is read or written.

    Args:
        evaluation: the evaluate stage's summary.
        mcu: the MCU check's summary.
        config: thresholds and budgets (recorded in the decision).
        champion: the current ``champion.json`` (``None`` = no champion yet).
        labels: the challenger's class names.
        digest: the challenger's :func:`model_digest`.
        now: the time of the decision (and of the default version).
        destination: where blessed models go (empty: decide and record only).
        version: the pushed folder's name (default ``<now>-<digest[:8]>``).
        lineage: ``pipeline_job`` and ``data_version`` of this run.
    """
    version = version or f"{now:%Y%m%d-%H%M%S}-{digest[:8]}"
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
        "champion": dict(champion) if champion is not None else None,
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
    return decision


def push_champion(
    decision: BlessDecision,
    quant_dir: Path,
    eval_dir: Path,
    mcu_dir: Path,
    config: Config,
    registry: str = "",
    vertex: Mapping[str, Any] | None = None,
) -> BlessDecision:
    """Push a decided model and make it the champion by compare-and-set; returns the decision as recorded.

    The model is copied first (:func:`push`), ``champion.json`` moves last (:func:`move_champion`), so a
    crash never leaves a pointer to a half-copied model. The move succeeds only if the champion is still
    the one the decision was made against (``decision["champion"]``); when another run moved it in
    between, the challenger is decided again against the new champion — refused, and its copied folder
    removed, if it is no longer better — up to :data:`CHAMPION_TRIES` times. A registry version is made
    only for a model that became champion.
    """
    evaluation, mcu = read_summary(eval_dir), read_summary(mcu_dir)
    copied, races = "", 0
    for _ in range(CHAMPION_TRIES):
        champion, generation = read_champion(decision["destination"])
        if champion != decision["champion"]:  # moved since the decision: decide again
            races += 1
            decision = _decide_again(decision, evaluation, mcu, config, champion)
            decision["reasons"].insert(0, f"the champion moved {races} time(s) while pushing: compared again")
        if not decision["pushed"]:
            break
        if copied != decision["model_uri"]:
            push(decision, quant_dir, eval_dir, mcu_dir)
            copied = decision["model_uri"]
        _record_pushed(decision)
        if move_champion(decision, generation):
            return register(decision, registry, config.image, vertex) if registry else decision
    else:
        raise TinysignError(
            f"{storage.join(decision['destination'], MODELS_DIR, CHAMPION_FILE)} changed {CHAMPION_TRIES} "
            "times while this run tried to move it; too many runs bless at once: run bless again"
        )
    if copied and copied != (decision["champion"] or {}).get("uri"):
        storage.delete([copied])  # lost to a better champion: nothing of this model stays under models/
    return decision


def _decide_again(
    decision: BlessDecision,
    evaluation: Mapping[str, Any],
    mcu: Mapping[str, Any],
    config: Config,
    champion: Mapping[str, Any] | None,
) -> BlessDecision:
    """The same challenger decided against another champion (same time, version and lineage)."""
    return decide(
        evaluation,
        mcu,
        config,
        champion=champion,
        labels=decision["labels"],
        digest=decision["model_sha256"],
        now=datetime.datetime.fromisoformat(decision["decided_at"]),
        destination=decision["destination"],
        version=decision["version"],
        lineage={"pipeline_job": decision["pipeline_job"], "data_version": decision["data_version"]},
    )


def push(decision: BlessDecision, quant_dir: Path, eval_dir: Path, mcu_dir: Path) -> None:
    """Copy a decided push to ``decision["model_uri"]``: the model, its evaluation and MCU check. The
    champion pointer is :func:`move_champion`'s."""
    uri = decision["model_uri"]
    storage.copy_tree(quant_dir, uri)
    storage.copy_tree(eval_dir, storage.join(uri, "evaluation"))
    storage.copy_tree(mcu_dir, storage.join(uri, "mcu"))


def _record_pushed(decision: BlessDecision) -> None:
    """The decision as ``bless.json`` beside the pushed model."""
    storage.write_text(storage.join(decision["model_uri"], BLESS_FILE), _decision_json(decision))


def move_champion(decision: BlessDecision, generation: str) -> bool:
    """Point ``<destination>/models/champion.json`` at the pushed model if it is still the champion the
    decision was made against (``generation`` from :func:`read_champion`); ``False`` when another run
    moved it in between."""
    record = {key: decision[key] for key in CHAMPION_KEYS}  # type: ignore[literal-required]
    return storage.replace_if_generation(
        storage.join(decision["destination"], MODELS_DIR, CHAMPION_FILE),
        json.dumps({**record, "uri": decision["model_uri"]}, indent=2) + "\n",
        generation,
    )


def register(
    decision: BlessDecision, registry: str, image: str, vertex: Mapping[str, Any] | None
) -> BlessDecision:
    """Upload the new champion to the Vertex AI Model Registry (as its default version) and record it
    in the pushed ``bless.json``."""
    registered = register_model(decision, registry, image, **(vertex or {}))
    reasons = [*decision["reasons"], f"registered in Vertex AI Model Registry: {registered}"]
    decision = {**decision, "registered_model": registered, "reasons": reasons}
    _record_pushed(decision)
    return decision


def _decision_json(decision: BlessDecision) -> str:
    return json.dumps(decision, indent=2, default=str) + "\n"


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
