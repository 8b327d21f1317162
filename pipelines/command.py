"""The KFP pipeline from the installed command line: run it locally, or compile it.

``tinysign pipeline run --data DIR [--out runs/local] [--params FILE] [--set key=value ...]`` runs the
whole pipeline on this machine through ``kfp.local`` (what ``make run`` does); ``tinysign pipeline
compile [--output FILE] [--image URI]`` writes the pipeline YAML to submit (what ``make compile`` does).
The params file holds config keys and pipeline parameters (``destination``, ``enroll_data``...);
``--config FILE`` and ``--set key=value`` config keys win over it.
"""

from __future__ import annotations

import argparse

from pipelines import compile as compiler
from pipelines import local_run
from tinysign.arguments import add_config_options
from tinysign.config import Config
from tinysign.ops.kfp_io import read_params


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run_here = actions.add_parser("run", help="run the whole pipeline here (kfp.local)")
    local_run.add_arguments(run_here)
    add_config_options(run_here, nested=True)
    compiler.add_arguments(actions.add_parser("compile", help="compile the pipeline to YAML"))


def run(args: argparse.Namespace, config: Config) -> int:
    if args.action == "compile":
        return compiler.run(args)
    given = {item.partition("=")[0].strip() for item in args.overrides} | set(read_params(args.config))
    return local_run.run(args, {key: value for key, value in config.to_dict().items() if key in given})
