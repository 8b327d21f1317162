"""What the KFP components need besides the stage functions: config in, UI-native metrics out.

The KFP wrappers in ``pipelines/components.py`` stay one call deep. The ``resolve-config`` step
validates the pipeline's typed parameters once with :func:`resolve_config` and hands each stage only
its keys (:meth:`~tinysign.config.Config.for_stage`); every other wrapper calls one stage function
and hands its ``metrics.json`` to :func:`log_metrics` / :func:`log_evaluation`, which fill KFP
``Metrics`` / ``ClassificationMetrics`` artifacts (duck-typed: no ``kfp`` import here, so the same
code is testable without KFP). :func:`pipeline_arguments` maps a flat dict of config keys (a
``--params`` file) onto the compiled pipeline's parameters for local runs and submissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.summaries import scalar_metrics

CONFIG_OVERRIDES = "config_overrides"  # the pipeline parameter that carries every other config key


def resolve_config(typed: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The full, validated config dict from the pipeline's typed parameters plus overrides.

    Args:
        typed: pipeline parameters that are also config keys (KFP passes ``List[int]`` items and
            struct numbers as floats; :meth:`Config.from_dict` casts them back).
        overrides: any other config keys (the ``config_overrides`` pipeline parameter).

    Raises:
        TinysignError: an override repeats a typed parameter, or a key/value is invalid.
    """
    overrides = dict(overrides or {})
    clash = sorted(set(overrides) & set(typed))
    if clash:
        raise TinysignError(
            f"{CONFIG_OVERRIDES}: {', '.join(clash)} are pipeline parameters of their "
            "own; set them directly, not in config_overrides"
        )
    return Config.from_dict({**overrides, **typed}).to_dict()


def pipeline_arguments(values: Mapping[str, Any], parameter_names: Iterable[str]) -> dict[str, Any]:
    """Map flat config keys (and pipeline-only keys) onto pipeline parameters.

    Keys that are pipeline parameters pass through; every other key must be a config key and goes
    into the ``config_overrides`` dict. The result is validated against :class:`Config` here, so a
    typo fails before anything is submitted.

    Args:
        values: e.g. the JSON of ``pipelines/params/demo.json`` plus ``data``/``destination``.
        parameter_names: the pipeline's input parameter names.
    """
    names = set(parameter_names)
    arguments = {k: v for k, v in values.items() if k in names and k != CONFIG_OVERRIDES}
    overrides = {
        **dict(values.get(CONFIG_OVERRIDES) or {}),
        **{k: v for k, v in values.items() if k not in names},
    }
    config_keys = {k: v for k, v in arguments.items() if k in Config.__dataclass_fields__}
    Config.from_dict({**overrides, **config_keys})  # validate now; raises TinysignError
    if overrides:
        arguments[CONFIG_OVERRIDES] = overrides
    return arguments


def read_params(path: str | Path | None) -> dict[str, Any]:
    """A ``--params`` JSON file (config keys and pipeline parameters) as a dict; ``{}`` for None."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TinysignError(f"{path}: params file not found") from None
    except json.JSONDecodeError as exc:
        raise TinysignError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise TinysignError(f"{path}: must hold a JSON object of config keys / pipeline parameters")
    return data


def plain(value: Any) -> Any:
    """``value`` as plain JSON types (numpy numbers and arrays included): a KFP output parameter."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write_artifact_file(artifact: Any, content: object) -> None:
    """Also write an artifact's metadata to its file: KFP stores metric artifacts as metadata only,
    and ``kfp.local``'s cache treats an artifact whose file is missing as a miss (so a task with a
    ``Metrics`` output, and everything after it, would never be cached)."""
    path = getattr(artifact, "path", None)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(content, indent=1) + "\n")


def log_metrics(artifact: Any, metrics: Mapping[str, Any]) -> dict[str, float]:
    """Log every finite scalar of ``metrics`` on a KFP ``Metrics`` artifact (UI: metrics tab)."""
    flat = scalar_metrics(metrics)
    for name, value in flat.items():
        artifact.log_metric(name, value)
    _write_artifact_file(artifact, flat)
    return flat


def log_confusion_matrix(artifact: Any, matrix: np.ndarray | list[list[int]], labels: list[str]) -> None:
    """Log a confusion matrix (rows = true) on a KFP ``ClassificationMetrics`` artifact."""
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.shape != (len(labels), len(labels)):
        raise TinysignError(f"confusion matrix has shape {matrix.shape} but there are {len(labels)} labels")
    artifact.log_confusion_matrix(list(labels), matrix.tolist())
    _write_artifact_file(artifact, {"labels": list(labels), "matrix": matrix.tolist()})


def log_evaluation(
    metrics: Any, confusion: Any, evaluation: Mapping[str, Any], eval_dir: str | Path, precision: str = "int8"
) -> None:
    """Evaluate's numbers on ``Metrics``, its confusion matrix on ``ClassificationMetrics``.

    Args:
        metrics: KFP ``Metrics`` artifact.
        confusion: KFP ``ClassificationMetrics`` artifact.
        evaluation: ``run_evaluate``'s result (``labels`` = class names).
        eval_dir: evaluate's output folder (``<precision>_confusion_matrix.npy``).
        precision: which model's matrix the UI shows (the deployed one: ``int8``).
    """
    log_metrics(metrics, evaluation)
    matrix = np.load(Path(eval_dir) / f"{precision}_confusion_matrix.npy")
    log_confusion_matrix(confusion, matrix, [str(label) for label in evaluation["labels"]])
