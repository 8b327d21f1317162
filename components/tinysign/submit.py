"""Submit the compiled pipeline as a run to Kubeflow Pipelines or Vertex AI Pipelines.

``tinysign submit --target kfp|vertex [--params FILE] [--data URI]`` sends
``pipelines/training_pipeline.yaml`` (``make compile``) with the parameters from a params file
(config keys, as for ``--config``). Cloud settings come from the environment (``env.sh``, see
``env.sh.example``), read once by :func:`read_env`; nothing is read at import time. The same module
holds the cron helpers and client calls used by ``tinysign schedule``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.pipeline_io import pipeline_arguments, read_params
from tinysign.storage import is_remote

TARGETS = ("kfp", "vertex")
DEFAULT_PACKAGE = "pipelines/training_pipeline.yaml"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


# --- environment ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloudEnv:
    """The cloud settings of ``env.sh`` (empty string = not set)."""

    project_id: str = ""
    region: str = ""
    bucket: str = ""
    ar_repo: str = ""
    image_uri: str = ""
    service_account: str = ""
    kfp_host: str = ""
    kfp_namespace: str = ""
    kfp_experiment: str = "tinysign"
    pipeline_root: str = ""
    model_destination: str = ""
    enable_caching: bool = True
    register_model: bool = False

    def require(self, target: str) -> None:
        """Raise one clear error naming every variable ``target`` needs but is not set."""
        needed = {"kfp": ("kfp_host",), "vertex": ("project_id", "region", "pipeline_root")}[target]
        missing = [name.upper() for name in needed if not getattr(self, name)]
        if missing:
            raise TinysignError(
                f"env.sh: {', '.join(missing)} not set for --target {target}; copy "
                "env.sh.example to env.sh, fill it in and `source env.sh` (make does it)"
            )


def parse_bool(name: str, value: str) -> bool:
    """Strict boolean: 1/true/yes/on or 0/false/no/off (any case); anything else is an error."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise TinysignError(
        f"env.sh: {name}={value!r} is not a boolean; use one of "
        f"{'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}"
    )


def read_env(environ: Mapping[str, str] | None = None) -> CloudEnv:
    """The one place that reads cloud settings from the environment.

    Variables: ``PROJECT_ID REGION BUCKET AR_REPO IMAGE_URI SERVICE_ACCOUNT KFP_HOST PIPELINE_ROOT``
    and optionally ``KFP_NAMESPACE KFP_EXPERIMENT MODEL_DESTINATION ENABLE_CACHING REGISTER_MODEL``
    (booleans: 1/true/yes/on or 0/false/no/off, anything else is an error). Derived when unset:
    ``PIPELINE_ROOT=gs://$BUCKET/pipeline-root``, ``MODEL_DESTINATION=gs://$BUCKET``.

    Args:
        environ: the variables (default: ``os.environ`` at call time).
    """
    env = os.environ if environ is None else environ

    def get(name: str, default: str = "") -> str:
        return env.get(name, "").strip() or default

    bucket = get("BUCKET").removeprefix("gs://").rstrip("/")
    caching = get("ENABLE_CACHING")
    return CloudEnv(
        project_id=get("PROJECT_ID"),
        region=get("REGION"),
        bucket=bucket,
        ar_repo=get("AR_REPO"),
        image_uri=get("IMAGE_URI"),
        service_account=get("SERVICE_ACCOUNT"),
        kfp_host=get("KFP_HOST"),
        kfp_namespace=get("KFP_NAMESPACE"),
        kfp_experiment=get("KFP_EXPERIMENT", "tinysign"),
        pipeline_root=get("PIPELINE_ROOT", f"gs://{bucket}/pipeline-root" if bucket else ""),
        model_destination=get("MODEL_DESTINATION", f"gs://{bucket}" if bucket else ""),
        enable_caching=parse_bool("ENABLE_CACHING", caching) if caching else True,
        register_model=parse_bool("REGISTER_MODEL", get("REGISTER_MODEL", "false")),
    )


def pipeline_image(environ: Mapping[str, str] | None = None) -> str:
    """The component image: ``IMAGE_URI`` when set, else ``Config().image`` (used at compile time)."""
    return read_env(environ).image_uri or Config().image


# --- cron -------------------------------------------------------------------------------------------

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# (name, lowest, highest) of the 5 standard fields; KFP puts a seconds field (0-59) in front.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
NAMES = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "sun": 0,
    "mon": 1,
    "tue": 2,
    "wed": 3,
    "thu": 4,
    "fri": 5,
    "sat": 6,
}
_TZ = re.compile(r"^(?:CRON_TZ|TZ)=[A-Za-z0-9_+\-/]+$")


def _check_field(expr: str, field: str, name: str, low: int, high: int) -> None:
    def number(text: str) -> int:
        value = NAMES.get(text.lower()) if not text.isdigit() else int(text)
        if value is None or not low <= value <= high:
            raise TinysignError(f"--cron {expr!r}: {name} field {field!r} is outside {low}-{high}")
        return value

    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise TinysignError(f"--cron {expr!r}: bad step in {name} field {field!r}")
        if base in ("*", "?"):
            continue
        first, _, last = base.partition("-")
        if not first or (last == "" and "-" in base):
            raise TinysignError(f"--cron {expr!r}: cannot read {name} field {field!r}")
        if last and number(first) > number(last):
            raise TinysignError(f"--cron {expr!r}: range {base!r} in the {name} field runs backwards")
        number(first)


def parse_cron(expr: str) -> tuple[str, str, list[str]]:
    """Split a cron expression into (timezone prefix, seconds field, the 5 standard fields).

    Accepts 5 fields (``m h dom mon dow``, Vertex style), 6 fields (``s m h dom mon dow``, KFP
    style), an optional ``TZ=Area/City`` / ``CRON_TZ=...`` prefix and ``@daily``-style macros.
    """
    words = expr.split()
    timezone = words.pop(0) if words and _TZ.match(words[0]) else ""
    if len(words) == 1 and words[0].lower() in MACROS:
        words = MACROS[words[0].lower()].split()
    if len(words) == 5:
        seconds = "0"
    elif len(words) == 6:
        seconds = words.pop(0)
    else:
        raise TinysignError(
            f"--cron {expr!r}: need 5 fields 'minute hour day month weekday' "
            "(or 6 with seconds first), e.g. '0 3 * * 1' = Mondays 03:00"
        )
    if not (seconds.isdigit() and 0 <= int(seconds) <= 59):
        raise TinysignError(f"--cron {expr!r}: the seconds field must be a number 0-59, not {seconds!r}")
    for field, (name, low, high) in zip(words, FIELDS, strict=True):
        _check_field(expr, field, name, low, high)
    return timezone, seconds, words


def kfp_cron(expr: str) -> str:
    """The 6-field cron Kubeflow Pipelines expects (seconds first; no time-zone prefix)."""
    timezone, seconds, fields = parse_cron(expr)
    if timezone:
        raise TinysignError(
            f"--cron {expr!r}: KFP recurring runs have no time-zone prefix (they run in "
            "the cluster's time zone, usually UTC); drop the TZ=... part"
        )
    return " ".join([seconds, *fields])


def vertex_cron(expr: str) -> str:
    """The 5-field cron Vertex AI schedules expect (optional ``TZ=`` prefix; no seconds field)."""
    timezone, seconds, fields = parse_cron(expr)
    if seconds != "0":
        raise TinysignError(
            f"--cron {expr!r}: Vertex AI schedules run at whole minutes; the seconds field must be 0"
        )
    return " ".join([timezone, *fields]).strip()


# --- clients ----------------------------------------------------------------------------------------


def kfp_client(env: CloudEnv) -> Any:
    """A ``kfp.Client`` for ``KFP_HOST`` (namespace from ``KFP_NAMESPACE`` when set)."""
    import warnings

    import kfp

    env.require("kfp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP >= 2.0.0-beta.2"
        return kfp.Client(host=env.kfp_host, namespace=env.kfp_namespace or "kubeflow")


def init_aiplatform(
    project: str, location: str, credentials: Any = None, api_endpoint: str | None = None, **settings: Any
) -> Any:
    """``aiplatform.init`` for one project and region; returns the ``aiplatform`` module.

    Args:
        project: Google Cloud project id.
        location: region, e.g. ``europe-west4``.
        credentials: explicit credentials (default: Application Default Credentials).
        api_endpoint: e.g. a regional or private endpoint, used over the REST transport (tests
            point it at a loopback server).
        **settings: further ``aiplatform.init`` arguments (``staging_bucket``, ``service_account``).
    """
    from google.cloud import aiplatform

    kwargs: dict[str, Any] = {"project": project, "location": location, **settings}
    if credentials is not None:
        kwargs["credentials"] = credentials
    if api_endpoint:
        kwargs.update(api_endpoint=api_endpoint, api_transport="rest")
    aiplatform.init(**kwargs)
    return aiplatform


def vertex_init(env: CloudEnv, credentials: Any = None, api_endpoint: str | None = None) -> Any:
    """:func:`init_aiplatform` for ``PROJECT_ID``/``REGION``, ``BUCKET`` and ``SERVICE_ACCOUNT``."""
    env.require("vertex")
    settings: dict[str, Any] = {"staging_bucket": f"gs://{env.bucket}" if env.bucket else None}
    if env.service_account:
        settings["service_account"] = env.service_account
    return init_aiplatform(env.project_id, env.region, credentials, api_endpoint, **settings)


def package_parameters(package: str | Path) -> dict[str, Any]:
    """The compiled pipeline's input parameters (name -> spec) from its YAML."""
    import yaml

    path = Path(package)
    if not path.is_file():
        raise TinysignError(f"{path}: compiled pipeline not found; run `make compile` first")
    spec = yaml.safe_load(path.read_text())
    try:
        return dict(spec["root"]["inputDefinitions"]["parameters"])
    except (KeyError, TypeError):
        raise TinysignError(
            f"{path}: not a KFP v2 pipeline spec (no root.inputDefinitions); re-run `make compile`"
        ) from None


def run_arguments(package: str | Path, params: Mapping[str, Any], env: CloudEnv) -> dict[str, Any]:
    """Pipeline arguments for a cloud run: params file values + destination / registry from env.

    ``MODEL_DESTINATION`` (default ``gs://$BUCKET``) fills ``destination``; ``REGISTER_MODEL=true``
    fills ``model_registry`` with ``projects/$PROJECT_ID/locations/$REGION``. Values in ``params``
    win over both.
    """
    values = dict(params)
    if env.model_destination and not values.get("destination"):
        values["destination"] = env.model_destination
    if env.register_model and not values.get("model_registry"):
        if not (env.project_id and env.region):
            raise TinysignError("env.sh: REGISTER_MODEL=true needs PROJECT_ID and REGION")
        values["model_registry"] = f"projects/{env.project_id}/locations/{env.region}"
    return pipeline_arguments(values, package_parameters(package))


def default_name(prefix: str = "tinysign") -> str:
    return f"{prefix}-{datetime.datetime.now(datetime.UTC).strftime('%Y%m%d-%H%M%S')}"


def vertex_job(
    package: str | Path, arguments: Mapping[str, Any], env: CloudEnv, name: str, **vertex: Any
) -> Any:
    """A Vertex AI ``PipelineJob`` of the compiled ``package`` (not yet submitted)."""
    aiplatform = vertex_init(env, **vertex)
    return aiplatform.PipelineJob(
        display_name=name,
        template_path=str(package),
        pipeline_root=env.pipeline_root,
        parameter_values=dict(arguments),
        enable_caching=env.enable_caching,
    )


def submit_run(
    target: str, package: str | Path, arguments: Mapping[str, Any], env: CloudEnv, name: str, **vertex: Any
) -> str:
    """Create one pipeline run; return its id (KFP run id or Vertex job resource name).

    Args:
        target: ``kfp`` or ``vertex``.
        package: compiled pipeline YAML.
        arguments: pipeline parameter values.
        env: cloud settings (host / project, region, pipeline root, service account).
        name: run (display) name.
        **vertex: ``credentials`` / ``api_endpoint`` for :func:`vertex_init`.
    """
    if target == "kfp":
        client = kfp_client(env)
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments=dict(arguments),
            run_name=name,
            experiment_name=env.kfp_experiment,
            namespace=env.kfp_namespace or None,
            pipeline_root=env.pipeline_root or None,
            enable_caching=env.enable_caching,
            service_account=env.service_account or None,
        )
        return str(result.run_id)
    job = vertex_job(package, arguments, env, name, **vertex)
    job.submit(service_account=env.service_account or None)
    return str(job.resource_name)


def create_schedule(
    target: str,
    package: str | Path,
    arguments: Mapping[str, Any],
    env: CloudEnv,
    cron: str,
    name: str,
    **vertex: Any,
) -> str:
    """Create a recurring (retraining) run; return the KFP recurring-run id / Vertex schedule name.

    ``cron`` may be 5- or 6-field; it is converted to what the target expects (:func:`kfp_cron`,
    :func:`vertex_cron`). One run at a time: a run still going when the next is due delays it.
    """
    if target == "kfp":
        expression = kfp_cron(cron)
        client = kfp_client(env)
        experiment = client.create_experiment(env.kfp_experiment, namespace=env.kfp_namespace or None)
        recurring = client.create_recurring_run(
            experiment_id=experiment.experiment_id,
            job_name=name,
            cron_expression=expression,
            pipeline_package_path=str(package),
            params=dict(arguments),
            max_concurrency=1,
            no_catchup=True,
            pipeline_root=env.pipeline_root or None,
            enable_caching=env.enable_caching,
            service_account=env.service_account or None,
        )
        return str(recurring.recurring_run_id)
    expression = vertex_cron(cron)
    job = vertex_job(package, arguments, env, name, **vertex)
    schedule = job.create_schedule(
        cron=expression,
        display_name=name,
        max_concurrent_run_count=1,
        service_account=env.service_account or None,
    )
    return str(schedule.resource_name)


def list_schedules(target: str, env: CloudEnv, **vertex: Any) -> list[dict[str, str]]:
    """Every schedule of the target as ``{"id", "name", "cron", "state"}``."""
    if target == "kfp":
        client = kfp_client(env)
        response = client.list_recurring_runs(page_size=100, namespace=env.kfp_namespace or None)
        return [
            {
                "id": r.recurring_run_id,
                "name": r.display_name,
                "cron": (r.trigger.cron_schedule.cron if r.trigger and r.trigger.cron_schedule else ""),
                "state": str(r.mode or r.status or ""),
            }
            for r in response.recurring_runs or []
        ]
    aiplatform = vertex_init(env, **vertex)
    return [
        {
            "id": s.resource_name,
            "name": s.display_name,
            "cron": s.gca_resource.cron,
            "state": s.gca_resource.state.name,
        }
        for s in aiplatform.PipelineJobSchedule.list()
    ]


def change_schedule(target: str, env: CloudEnv, schedule_id: str, action: str, **vertex: Any) -> None:
    """``pause``, ``resume`` or ``delete`` one schedule (KFP recurring-run id / Vertex name or id)."""
    if action not in ("pause", "resume", "delete"):
        raise TinysignError(f"schedule action {action!r}: use pause, resume or delete")
    if target == "kfp":
        client = kfp_client(env)
        {
            "pause": client.disable_recurring_run,
            "resume": client.enable_recurring_run,
            "delete": client.delete_recurring_run,
        }[action](recurring_run_id=schedule_id)
        return
    aiplatform = vertex_init(env, **vertex)
    schedule = aiplatform.PipelineJobSchedule.get(schedule_id)
    {"pause": schedule.pause, "resume": schedule.resume, "delete": schedule.delete}[action]()


# --- CLI --------------------------------------------------------------------------------------------


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """``--target --package --params --data``: what ``submit`` and ``schedule`` both take."""
    parser.add_argument("--target", required=True, choices=TARGETS, help="Kubeflow Pipelines or Vertex AI")
    parser.add_argument(
        "--package",
        default=DEFAULT_PACKAGE,
        help=f"compiled pipeline (default {DEFAULT_PACKAGE}; `make compile`)",
    )
    parser.add_argument(
        "--params",
        metavar="FILE",
        help="JSON of config keys / pipeline parameters, e.g. pipelines/params/demo.json",
    )
    parser.add_argument("--data", help="input data for the ingest step (gs://... or a path in the image)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(parser)
    parser.add_argument("--name", help="run name (default tinysign-<UTC time>)")


def cli_values(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    """Params file + ``--config``/``--set`` keys that differ from the defaults + ``--data``."""
    defaults = Config().to_dict()
    values = {k: v for k, v in config.to_dict().items() if v != defaults[k]}
    values.update(read_params(args.params))
    if args.data:
        values["data"] = args.data
    data = str(values.get("data") or "")
    if not data:
        raise TinysignError("--data: say where the videos are (gs://bucket/path), or set data in --params")
    if not is_remote(data) and not data.startswith("/gcs/") and Path(data).exists():
        raise TinysignError(
            f"--data {data}: a folder on this machine; the pipeline runs in the cloud: "
            f"upload it (gcloud storage cp -r {data} gs://BUCKET/videos) and pass the gs:// URI"
        )
    return values


def run(args: argparse.Namespace, config: Config) -> int:
    env = read_env()
    env.require(args.target)
    arguments = run_arguments(args.package, cli_values(args, config), env)
    name = args.name or default_name()
    run_id = submit_run(args.target, args.package, arguments, env, name)
    print(
        json.dumps(
            {"target": args.target, "run": run_id, "name": name, "parameters": arguments},
            indent=2,
            default=str,
        )
    )
    return 0
