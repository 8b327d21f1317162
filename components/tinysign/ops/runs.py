"""Runs side by side: ``tinysign runs`` lists pipeline runs, ``--compare A B`` shows what changed.

Every run's bless step (never cached) writes ``bless.json``: the decision, every check, what it was
decided on (data fingerprint, model, INT8/float32 accuracy, baselines, arena, flash) and the config of
the run, so ``--compare`` shows both what changed in the results and the settings that produced them.
Local runs are read from ``<root>/pipeline_root/<run>/bless/blessing/``; ``--target vertex`` reads the
same file from each pipeline job's bless task output through the Vertex AI client; ``--target kfp``
lists the Kubeflow runs (name, state, date) through the KFP client.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinysign.artifacts import BLESS_FILE
from tinysign.config import Config
from tinysign.data import storage
from tinysign.errors import TinysignError
from tinysign.ops.clients import kfp_client, vertex_init
from tinysign.ops.env import CloudEnv, read_env
from tinysign.reporting.tables import Table, Verdict, to_markdown
from tinysign.reporting.views import BASELINE_NAMES
from tinysign.summaries import BlessDecision, read_decision

BLESS_TASK, BLESS_OUTPUT = "bless", "blessing"
FIELDS = (
    "date",
    "data fingerprint",
    "model",
    "INT8",
    "float32",
    "agreement",
    "strongest baseline",
    "arena",
    "flash",
    "decision",
)


@dataclass(frozen=True)
class RunRow:
    """One run, as the blessing saw it."""

    run: str
    values: dict[str, object]
    checks: dict[str, bool] = field(default_factory=dict)
    config: dict[str, object] = field(default_factory=dict)


def row_of(run: str, decision: BlessDecision | None, state: str = "") -> RunRow:
    """A run's row from its ``bless.json`` (``None``: the run has no decision yet; ``state`` says why)."""
    if decision is None:
        return RunRow(run, {"decision": state or "no decision"})
    measured = decision.get("measured") or {}
    baseline = measured.get("strongest_baseline") or {}
    verdict = "BLESSED" if decision["blessed"] else "NOT BLESSED"
    return RunRow(
        run,
        {
            "date": decision.get("decided_at"),
            "data fingerprint": decision.get("data_version") or "",
            "model": measured.get("model") or (decision.get("config") or {}).get("model"),
            "INT8": decision.get("int8_accuracy"),
            "float32": decision.get("float_accuracy"),
            "agreement": measured.get("prediction_agreement"),
            "strongest baseline": (
                f"{BASELINE_NAMES.get(baseline['name'], baseline['name'])} {baseline['accuracy']:.3f}"
                if baseline
                else None
            ),
            "arena": measured.get("arena_bytes"),
            "flash": measured.get("flash_bytes"),
            "decision": f"{verdict} ({decision.get('outcome', '')})",
        },
        {c["name"]: c["passed"] for c in decision.get("checks", [])},
        dict(decision.get("config") or {}),
    )


def local_runs(root: str | Path) -> list[RunRow]:
    """The runs of ``make run`` / ``python -m pipelines.local_run`` under ``root``, oldest first."""
    runs = Path(root) / "pipeline_root"
    if not runs.is_dir():
        raise TinysignError(f"{runs} not found: no local runs yet (make run), or pass --root")
    return [
        row_of(d.name, read_decision(d / BLESS_TASK / BLESS_OUTPUT), "no bless output")
        for d in sorted(runs.iterdir())
        if d.is_dir()
    ]


def vertex_runs(env: CloudEnv, **vertex: Any) -> list[RunRow]:
    """Vertex AI pipeline jobs of tinysign, with the ``bless.json`` of each finished one."""
    aiplatform = vertex_init(env, **vertex)
    rows = []
    for job in aiplatform.PipelineJob.list(
        filter='pipeline_name="tinysign-training"', order_by="create_time"
    ):
        uri = _bless_uri(job.gca_resource)
        decision = None
        if uri and storage.exists(storage.join(uri, BLESS_FILE)):
            import json

            decision = json.loads(storage.read_text(storage.join(uri, BLESS_FILE)))
        rows.append(row_of(job.display_name, decision, job.gca_resource.state.name))
    return rows


def _bless_uri(job: Any) -> str:
    for task in job.job_detail.task_details:
        if task.task_name == BLESS_TASK and BLESS_OUTPUT in task.outputs:
            artifacts = task.outputs[BLESS_OUTPUT].artifacts
            return artifacts[0].uri if artifacts else ""
    return ""


def kfp_runs(env: CloudEnv) -> list[RunRow]:
    """Kubeflow runs in ``KFP_EXPERIMENT`` (name, state, date); their metrics are in the KFP UI."""
    client = kfp_client(env)
    experiment = client.get_experiment(
        experiment_name=env.kfp_experiment, namespace=env.kfp_namespace or None
    )
    response = client.list_runs(
        experiment_id=experiment.experiment_id, page_size=100, sort_by="created_at asc"
    )
    return [
        RunRow(r.display_name, {"date": str(r.created_at), "decision": str(r.state)})
        for r in response.runs or []
    ]


def runs_table(rows: list[RunRow]) -> Table:
    return Table(("run", *FIELDS), [(r.run, *(r.values.get(f) for f in FIELDS)) for r in rows], title="Runs")


def compare_table(a: RunRow, b: RunRow) -> Table:
    """Two runs side by side: every field, every blessing check, and the config keys set differently
    (what produced the difference); which changed."""
    rows: list[tuple[object, ...]] = [
        (
            f,
            a.values.get(f),
            b.values.get(f),
            Verdict(
                a.values.get(f) == b.values.get(f),
                "same" if a.values.get(f) == b.values.get(f) else "changed",
            ),
        )
        for f in FIELDS
    ]
    for name in dict.fromkeys([*a.checks, *b.checks]):
        before, after = a.checks.get(name), b.checks.get(name)
        rows.append(
            (
                f"check: {name}",
                _passed(before),
                _passed(after),
                Verdict(before == after, "same" if before == after else "changed"),
            )
        )
    for key in sorted(set(a.config) | set(b.config)):
        if a.config.get(key) != b.config.get(key):
            rows.append((f"config: {key}", a.config.get(key), b.config.get(key), Verdict(False, "changed")))
    differ = sum(str(row[0]).startswith("config: ") for row in rows)
    note = f"{differ} config key(s) set differently." if differ else "Same config."
    if not a.config or not b.config:
        note = "A run without a recorded config (from before bless.json kept it): config not compared."
    return Table(("", a.run, b.run, ""), rows, title=f"{a.run} vs {b.run}", note=note)


def _passed(value: bool | None) -> str:
    return "n/a" if value is None else "pass" if value else "FAIL"


def find(rows: list[RunRow], name: str) -> RunRow:
    matches = [r for r in rows if r.run == name or r.run.endswith(name)]
    if len(matches) != 1:
        known = ", ".join(r.run for r in rows[-5:])
        raise TinysignError(
            f"--compare {name}: {'no' if not matches else 'more than one'} run matches (latest: {known})"
        )
    return matches[0]


# --- CLI ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="runs/local", help="local run folder (default %(default)s)")
    parser.add_argument(
        "--target", choices=("local", "vertex", "kfp"), default="local", help="where the runs are"
    )
    parser.add_argument(
        "--compare", nargs=2, metavar=("A", "B"), help="two runs side by side (names or suffixes)"
    )


def run(args: argparse.Namespace, config: Config) -> int:
    del config
    if args.target == "local":
        rows = local_runs(args.root)
    else:
        env = read_env()
        env.require(args.target)
        rows = vertex_runs(env) if args.target == "vertex" else kfp_runs(env)
    if args.compare:
        print(to_markdown(compare_table(find(rows, args.compare[0]), find(rows, args.compare[1]))))
    else:
        print(to_markdown(runs_table(rows)) if rows else "no runs")
    return 0
