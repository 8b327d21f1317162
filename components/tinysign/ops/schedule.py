"""Schedule recurring retraining runs on Kubeflow Pipelines or Vertex AI (list/pause/resume/delete).

``tinysign schedule --target kfp|vertex --cron "0 3 * * 1" [--params FILE] [--data URI]`` creates a
schedule of ``pipelines/training_pipeline.yaml``. ``--cron`` takes the usual 5 fields
(minute hour day month weekday), 6 fields with seconds first, an optional ``TZ=Area/City`` prefix
(Vertex only) or ``@daily``/``@weekly``; it is converted to KFP's 6-field or Vertex's 5-field form.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.ops.clients import kfp_client, vertex_init
from tinysign.ops.cron import kfp_cron, vertex_cron
from tinysign.ops.env import CloudEnv, read_env
from tinysign.ops.submit import add_pipeline_arguments, cli_values, default_name, run_arguments, vertex_job


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(parser)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--cron", help='when to retrain, e.g. "0 3 * * 1" (Mondays 03:00)')
    action.add_argument("--list", action="store_true", help="list the schedules")
    action.add_argument("--pause", metavar="ID", help="pause a schedule (id from --list)")
    action.add_argument("--resume", metavar="ID", help="resume a paused schedule")
    action.add_argument("--delete", metavar="ID", help="delete a schedule")
    parser.add_argument("--name", help="schedule name (default tinysign-retrain-<UTC time>)")


def run(args: argparse.Namespace, config: Config) -> int:
    env = read_env()
    env.require(args.target)
    if args.list:
        schedules = list_schedules(args.target, env)
        for item in schedules:
            print(f"{item['id']}\t{item['name']}\t{item['cron']}\t{item['state']}")
        if not schedules:
            print("no schedules")
        return 0
    for action in ("pause", "resume", "delete"):
        schedule_id = getattr(args, action)
        if schedule_id:
            change_schedule(args.target, env, schedule_id, action)
            print(f"{action}: {schedule_id}")
            return 0
    if not args.cron:
        raise TinysignError("--cron: give a cron expression (or --list/--pause/--resume/--delete)")
    arguments = run_arguments(args.package, cli_values(args, config), env)
    name = args.name or default_name("tinysign-retrain")
    schedule_id = create_schedule(args.target, args.package, arguments, env, args.cron, name)
    print(
        json.dumps(
            {
                "target": args.target,
                "schedule": schedule_id,
                "name": name,
                "cron": args.cron,
                "parameters": arguments,
            },
            indent=2,
            default=str,
        )
    )
    return 0
