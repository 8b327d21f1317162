"""Blessing: push the new model only if it meets the thresholds and beats (or ties) the champion.

Checks (each recorded with value, threshold and verdict in ``bless.json``):

* INT8 test accuracy >= ``config.min_int8_accuracy``;
* float - INT8 accuracy <= ``config.max_int8_drop``;
* INT8 accuracy above the majority-class baseline and not below raw-pixel 1-NN (when reported);
* tensor-arena and flash bytes within ``config.arena_budget_bytes`` / ``config.flash_budget_bytes``;
* INT8 accuracy >= the current champion's (read from ``<destination>/models/champion.json``), when
  the champion was trained on the same label set.

A blessed model is copied to ``<destination>/models/<version>/`` (local folder or ``gs://``, through
:mod:`tinysign.storage`) and ``champion.json`` is updated last, so a crash never leaves a pointer to
a half-copied model.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tinysign import storage
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.pipeline_io import METRICS_FILE, read_metrics
from tinysign.submit import init_aiplatform

BLESS_FILE = "bless.json"
MODELS_DIR = "models"
CHAMPION_FILE = "champion.json"
CHAMPION_KEYS = ("version", "model_sha256", "int8_accuracy", "float_accuracy", "labels", "decided_at")
REGISTRY_MODEL_NAME = "tinysign"

# Where each number lives in the stage metrics.json files (evaluate / mcu): first path found wins.
INT8_ACCURACY = ("int8_accuracy", "int8.accuracy")
FLOAT_ACCURACY = ("float32_accuracy", "float32.accuracy")
BASELINES = {
    "majority class": ("baselines.majority.accuracy",),
    "raw-pixel 1-NN": ("baselines.nearest_neighbour.accuracy",),
}
ARENA_BYTES = ("arena_bytes",)  # the largest single tensor arena (per invocation)
FLASH_BYTES = ("flash_bytes",)  # all INT8 .tflite parts together
LABELS = ("labels",)


@dataclass(frozen=True)
class Check:
    """One blessing criterion."""

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


def lookup(metrics: Mapping[str, Any], paths: tuple[str, ...]) -> Any:
    """The value at the first dotted path present in ``metrics`` (``None`` when none is)."""
    for path in paths:
        node: Any = metrics
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                break
            node = node[key]
        else:
            return node
    return None


def _number(metrics: Mapping[str, Any], paths: tuple[str, ...]) -> float | None:
    value = lookup(metrics, paths)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _at_least(name: str, value: float | None, threshold: float, source: str) -> Check:
    if value is None:
        return Check(name, False, None, threshold, f"not found in {source}; cannot bless without it")
    ok = value >= threshold
    return Check(name, ok, value, threshold, f"{value:.4f} {'>=' if ok else '<'} {threshold:.4f}")


def _at_most(name: str, value: float | None, threshold: float, source: str, unit: str = "") -> Check:
    if value is None:
        return Check(name, False, None, threshold, f"not found in {source}; cannot bless without it")
    ok = value <= threshold
    fmt = (lambda v: f"{int(v)}{unit}") if unit else (lambda v: f"{v:.4f}")
    return Check(name, ok, value, threshold, f"{fmt(value)} {'<=' if ok else '>'} {fmt(threshold)}")


def blessing_checks(
    evaluation: Mapping[str, Any],
    mcu: Mapping[str, Any],
    config: Config,
    champion: Mapping[str, Any] | None = None,
    labels: list[str] | None = None,
) -> list[Check]:
    """Every blessing criterion for a challenger.

    Args:
        evaluation: the evaluate stage's ``metrics.json``.
        mcu: the MCU check's ``metrics.json``.
        config: thresholds (``min_int8_accuracy``, ``max_int8_drop``, ``*_budget_bytes``).
        champion: the current ``champion.json`` (``None`` = no champion yet).
        labels: the challenger's class names (champion comparison needs the same label set).
    """
    int8 = _number(evaluation, INT8_ACCURACY)
    float_acc = _number(evaluation, FLOAT_ACCURACY)
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
    for name, paths in BASELINES.items():
        baseline = _number(evaluation, paths)
        if baseline is not None and int8 is not None:
            # must beat guessing the majority class; must at least match raw-pixel 1-NN (which
            # can be perfect on an easy test set)
            strict = name == "majority class"
            ok = int8 > baseline if strict else int8 >= baseline
            sign = (">" if strict else ">=") if ok else ("<=" if strict else "<")
            title = f"beats {name} baseline" if strict else f"not worse than {name} baseline"
            checks.append(Check(title, ok, int8, baseline, f"INT8 {int8:.4f} {sign} {baseline:.4f}"))
    checks.append(
        _at_most(
            "tensor arena within budget",
            _number(mcu, ARENA_BYTES),
            config.arena_budget_bytes,
            "MCU metrics",
            " B",
        )
    )
    checks.append(
        _at_most(
            "flash within budget", _number(mcu, FLASH_BYTES), config.flash_budget_bytes, "MCU metrics", " B"
        )
    )
    if champion:
        champ = champion.get("int8_accuracy")
        if labels is not None and champion.get("labels") not in (None, labels):
            checks.append(
                Check(
                    "not worse than champion",
                    True,
                    int8,
                    champ,
                    f"champion {champion.get('version')} has another label set; "
                    "accuracies are not comparable, comparison skipped",
                )
            )
        elif isinstance(champ, int | float) and int8 is not None:
            ok = int8 >= champ
            checks.append(
                Check(
                    "not worse than champion",
                    ok,
                    int8,
                    float(champ),
                    f"INT8 {int8:.4f} {'>=' if ok else '<'} champion "
                    f"{champion.get('version')} {float(champ):.4f}",
                )
            )
    return checks


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


def _labels(quant_dir: Path, evaluation: Mapping[str, Any]) -> list[str] | None:
    path = quant_dir / "labels.txt"
    if path.is_file():
        return [line for line in path.read_text().splitlines() if line]
    found = lookup(evaluation, LABELS)
    return list(found) if isinstance(found, list) else None


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
) -> dict[str, Any]:
    """Decide, record and (if blessed) push; write ``bless.json`` + ``metrics.json`` to ``out_dir``.

    Args:
        quant_dir: quantize output (``*.tflite``, ``labels.txt``): what gets pushed.
        eval_dir: evaluate output (``metrics.json``; pushed as ``evaluation/``).
        mcu_dir: MCU check output (``metrics.json``, C array; pushed as ``mcu/``).
        out_dir: where ``bless.json`` goes.
        config: thresholds and budgets.
        destination: folder or ``gs://`` URI holding ``models/``; empty = decide and record only.
        version: the pushed folder's name (default ``<UTC time>-<model sha256[:8]>``).
        registry: ``projects/<project>/locations/<region>``: also upload a pushed ``gs://`` model
            to that Vertex AI Model Registry (a new version of model ``tinysign``); empty = no.
        vertex: ``credentials`` / ``api_endpoint`` for the registry client (tests: loopback).

    Returns:
        The decision: ``{"blessed", "pushed", "version", "model_uri", "reasons", "checks",
        "champion", ...}``.
    """
    quant, evaluation_dir, mcu_path = Path(quant_dir), Path(eval_dir), Path(mcu_dir)
    evaluation = read_metrics(evaluation_dir)
    mcu = read_metrics(mcu_path)
    digest = model_digest(quant)
    now = datetime.datetime.now(datetime.UTC)
    version = version or f"{now:%Y%m%d-%H%M%S}-{digest[:8]}"
    labels = _labels(quant, evaluation)
    champion = read_champion(destination)
    checks = blessing_checks(evaluation, mcu, config, champion, labels)
    blessed = all(c.passed for c in checks)
    reasons = [f"{'ok' if c.passed else 'FAIL'}: {c.name}: {c.detail}" for c in checks]
    model_uri = storage.join(destination, MODELS_DIR, version) if destination else ""
    pushed = False
    if not blessed:
        reasons.append("not blessed: nothing pushed")
    elif not destination:
        reasons.append("blessed; no destination given: nothing pushed")
    elif champion and champion.get("model_sha256") == digest:
        model_uri = str(champion.get("uri", ""))
        reasons.append(f"blessed; identical to champion {champion.get('version')}: nothing pushed")
    else:
        pushed = True
        reasons.append(f"blessed: pushed to {model_uri}")
    decision = {
        "blessed": blessed,
        "pushed": pushed,
        "version": version,
        "model_uri": model_uri,
        "destination": destination,
        "model_sha256": digest,
        "decided_at": now.isoformat(timespec="seconds"),
        "reasons": reasons,
        "checks": [asdict(c) for c in checks],
        "champion": champion,
        "int8_accuracy": _number(evaluation, INT8_ACCURACY),
        "float_accuracy": _number(evaluation, FLOAT_ACCURACY),
        "labels": labels,
        "config": config.to_dict(),
    }
    if pushed:
        _copy_model(quant, evaluation_dir, mcu_path, model_uri)
        if registry:
            decision["registered_model"] = register_model(decision, registry, config.image, **(vertex or {}))
            reasons.append(f"registered in Vertex AI Model Registry: {decision['registered_model']}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(decision, indent=2, default=str) + "\n"
    (out / BLESS_FILE).write_text(text)
    failed = sum(not c.passed for c in checks)
    (out / METRICS_FILE).write_text(
        json.dumps({"blessed": blessed, "pushed": pushed, "checks_failed": failed}, indent=2) + "\n"
    )
    if pushed:
        storage.write_text(storage.join(model_uri, BLESS_FILE), text)
        champion_record = {k: decision[k] for k in CHAMPION_KEYS}
        storage.write_text(  # last: the pointer moves only once the model is complete
            storage.join(destination, MODELS_DIR, CHAMPION_FILE),
            json.dumps({**champion_record, "uri": model_uri}, indent=2) + "\n",
        )
    return decision


def _copy_model(quant: Path, eval_dir: Path, mcu_dir: Path, model_uri: str) -> None:
    _copy_tree(quant, model_uri)
    _copy_tree(eval_dir, storage.join(model_uri, "evaluation"))
    _copy_tree(mcu_dir, storage.join(model_uri, "mcu"))


def register_model(decision: Mapping[str, Any], registry: str, image: str, **vertex: Any) -> str:
    """Upload a pushed model folder to Vertex AI Model Registry; return the model resource name.

    The entry records lineage and versions (labels: version, model sha256). The artifacts are INT8
    ``.tflite`` files for microcontrollers: ``image`` (our pipeline image) is recorded as the
    container, but the model is not meant for a Vertex endpoint.

    Args:
        decision: :func:`run_bless`'s decision (``model_uri`` must be ``gs://``).
        registry: ``projects/<project>/locations/<region>``.
        image: container image recorded with the model.
        **vertex: ``credentials`` / ``api_endpoint`` for :func:`tinysign.submit.init_aiplatform`.
    """
    match = re.fullmatch(r"projects/([^/]+)/locations/([^/]+)", registry.strip())
    if match is None:
        raise TinysignError(f"model registry {registry!r}: expected projects/<project>/locations/<region>")
    uri = str(decision["model_uri"])
    if not uri.startswith("gs://"):
        raise TinysignError(
            f"model registry: {uri} is not on GCS; use a gs:// destination to register models"
        )
    aiplatform = init_aiplatform(match[1], match[2], **vertex)
    existing = aiplatform.Model.list(filter=f'display_name="{REGISTRY_MODEL_NAME}"')
    model = aiplatform.Model.upload(
        display_name=REGISTRY_MODEL_NAME,
        artifact_uri=uri,
        serving_container_image_uri=image,
        parent_model=existing[0].resource_name if existing else None,
        description=f"tinysign {decision['version']}: INT8 test accuracy {decision['int8_accuracy']}",
        labels={"version": str(decision["version"]).lower(), "sha256": str(decision["model_sha256"])[:16]},
        sync=True,
    )
    return str(model.resource_name)


def decision_markdown(decision: Mapping[str, Any], path: str | Path) -> Path:
    """The decision as Markdown (KFP UI ``Markdown`` artifact): verdict, checks table, reasons."""
    lines = [f"# {'Blessed' if decision['blessed'] else 'Not blessed'}: version `{decision['version']}`", ""]
    if decision.get("pushed"):
        lines += [f"Pushed to `{decision['model_uri']}`.", ""]
    lines += ["| check | value | threshold | verdict |", "|---|---|---|---|"]
    for check in decision.get("checks", []):
        value, threshold = check.get("value"), check.get("threshold")
        lines.append(
            f"| {check['name']} | {'n/a' if value is None else f'{value:.4g}'} | "
            f"{'n/a' if threshold is None else f'{threshold:.4g}'} | "
            f"{'pass' if check['passed'] else '**FAIL**'} |"
        )
    lines += ["", *[f"- {reason}" for reason in decision.get("reasons", [])], ""]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
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
