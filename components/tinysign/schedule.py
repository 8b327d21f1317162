"""Schedule recurring retraining runs on Kubeflow Pipelines or Vertex AI (list/pause/resume/delete).

``tinysign schedule --target kfp|vertex --cron "0 3 * * 1" [--params FILE] [--data URI]`` creates a
schedule of ``pipelines/training_pipeline.yaml``. ``--cron`` takes the usual 5 fields
(minute hour day month weekday), 6 fields with seconds first, an optional ``TZ=Area/City`` prefix
(Vertex only) or ``@daily``/``@weekly``; it is converted to KFP's 6-field or Vertex's 5-field form.
"""

from __future__ import annotations

import argparse
import json

from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.submit import (
    add_pipeline_arguments,
    change_schedule,
    cli_values,
    create_schedule,
    default_name,
    list_schedules,
    read_env,
    run_arguments,
)


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
