"""Submit the compiled pipeline as a run to Kubeflow Pipelines or Vertex AI Pipelines.

``tinysign submit --target kfp|vertex [--params FILE] [--data URI]`` sends
``pipelines/training_pipeline.yaml`` (``make compile``) with the parameters from a params file
(config keys, as for ``--config``). Cloud settings come from ``env.sh`` (:mod:`tinysign.ops.env`).
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinysign.config import Config
from tinysign.data.storage import is_remote
from tinysign.errors import TinysignError
from tinysign.ops.clients import kfp_client, vertex_init
from tinysign.ops.env import CloudEnv, read_env
from tinysign.ops.kfp_io import pipeline_arguments, read_params

TARGETS = ("kfp", "vertex")
DEFAULT_PACKAGE = "pipelines/training_pipeline.yaml"


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
    # With EXPERIMENT set, Vertex AI Experiments records the run: its parameters and the metrics the
    # steps log (KFP Metrics artifacts), side by side with earlier runs of the same experiment.
    job.submit(service_account=env.service_account or None, experiment=env.experiment or None)
    return str(job.resource_name)


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
