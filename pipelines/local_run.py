"""Run the whole pipeline on this machine with ``kfp.local`` (no cluster, no cloud).

``python -m pipelines.local_run --data DIR --out DIR [--params FILE] [--no-cache]`` (what ``make run``
and ``tinysign pipeline run`` do). It ends by printing the next three things to do: open the report,
predict with the model it blessed, look at this run's training curves in TensorBoard.

Every task runs as a subprocess of this Python (``SubprocessRunner(use_venv=False)``: the package
and its pinned dependencies must be installed here, as ``make install`` does). Artifacts land
under ``OUT/pipeline_root/``, blessed models under ``OUT/models/<version>/`` and the report is
copied to ``OUT/report.html``.

Caching: ``kfp.local`` (kfp >= 2.15) caches a task's outputs under ``OUT/.kfp_cache`` keyed by
component, image, command and input values (artifact inputs by URI), and reuses them while the
artifact files still exist. A rerun with the same inputs therefore skips every step except
``data-version`` and ``bless`` (never cached: they read the data folder and the current champion)
and ``report``. What would go stale is keyed in too: ingest is cached on the data folder's
fingerprint (file names, sizes, mtimes) computed by ``data-version``, and the local "image" name
carries a hash of the ``tinysign`` sources, so new videos or an edited stage rerun the affected
steps. ``--no-cache`` reruns everything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from tinysign.artifacts import REPORT_FILE, TENSORBOARD_DIR
from tinysign.data.storage import is_remote
from tinysign.errors import TinysignError


def local_image() -> str:
    """The image name for local runs: ``Config().image`` + a hash of the ``tinysign`` sources.

    Locally the image is never pulled; it only enters ``kfp.local``'s cache key. Hashing the
    package sources into it means an edited stage invalidates the cache, as a new image would.
    """
    import tinysign
    from tinysign.config import Config

    digest = hashlib.sha256()
    package = Path(tinysign.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{Config().image}-local-{digest.hexdigest()[:12]}"


def _import_kfp_local() -> None:
    """Import ``kfp.local`` without the repo's ``docker/`` folder shadowing the ``docker`` SDK.

    ``kfp.local`` imports the optional ``docker`` package; run from the repository root, Python
    would import our ``docker/`` (Dockerfiles, no ``__init__``) as a namespace package instead.
    """
    repo = Path(__file__).resolve().parents[1]
    saved = sys.path[:]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != repo]
    try:
        import kfp.local.task_dispatcher  # noqa: F401 - imported for its side effect only
    finally:
        sys.path[:] = saved


def run_local(
    data: str | Path,
    out: str | Path,
    params: dict[str, Any] | None = None,
    cache: bool = True,
    retries: int = 0,
) -> dict[str, Any]:
    """Run the pipeline locally; return ``{"report", "blessing", "decision", "models", "quantized",
    "tensorboard", "seconds"}``.

    Args:
        data: the ingest source (local folder; ``gs://`` works when ingest supports it).
        out: run folder (pipeline root, cache, models/, report.html).
        params: config keys and pipeline parameters (e.g. ``pipelines/params/demo.json``).
        cache: reuse cached task outputs (see module docstring).
        retries: retries of extract/train (0 locally: a real bug would only run three times).
    """
    _import_kfp_local()
    from kfp import local

    from pipelines.training_pipeline import build_pipeline, parameter_names
    from tinysign.ops.kfp_io import pipeline_arguments
    from tinysign.summaries import read_decision

    data = str(data) if is_remote(str(data)) else str(Path(data).resolve())
    if not is_remote(data) and not Path(data).exists():
        raise TinysignError(f"--data {data}: not found; `make demo` writes the demo dataset")
    root = Path(out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    values = {
        "destination": str(root),
        **(params or {}),
        "data": data,
    }
    pipeline = build_pipeline(local_image(), retries=retries)
    arguments = pipeline_arguments(values, parameter_names(pipeline))
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root / "pipeline_root"),
        enable_caching=cache,
        cache_root=str(root / ".kfp_cache"),
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        # The image only matters on a cluster; CPU/memory limits are no-ops in a local subprocess.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
        task = pipeline(**arguments)
    seconds = time.perf_counter() - start
    report = root / REPORT_FILE
    shutil.copyfile(task.outputs["report"].path, report)
    decision = read_decision(task.outputs["blessing"].path)
    return {
        "report": str(report),
        "report_artifact": task.outputs["report"].path,
        "blessing": task.outputs["blessing"].path,
        "decision": decision,
        "models": str(root / "models"),
        "quantized": task.outputs["quantized"].path,
        "tensorboard": str(Path(task.outputs["model"].path) / TENSORBOARD_DIR),
        "seconds": round(seconds, 1),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a local run (``python -m pipelines.local_run`` and ``tinysign pipeline run``)."""
    parser.add_argument("--data", required=True, help="input data folder (e.g. the demo dataset)")
    parser.add_argument("--out", default="runs/local", help="run folder (default %(default)s)")
    parser.add_argument(
        "--params", help="JSON of config keys / pipeline parameters (e.g. pipelines/params/demo.json)"
    )
    parser.add_argument("--no-cache", action="store_true", help="run every task again")
    parser.add_argument("--retries", type=int, default=0, help="retries of extract/train (default 0)")


def run(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> int:
    """Run the pipeline locally and say what happened and what to do next; ``overrides`` (config keys,
    e.g. from ``--set``) win over the params file. Raises :class:`TinysignError` on bad input."""
    from tinysign.ops.kfp_io import read_params
    from tinysign.reporting.views import decision_line

    try:
        result = run_local(
            args.data,
            args.out,
            {**read_params(args.params), **(overrides or {})},
            cache=not args.no_cache,
            retries=args.retries,
        )
    except RuntimeError as exc:  # kfp.local: "Pipeline ... FAILURE. Inner task failed: <task>"
        raise TinysignError(f"{exc} (the task's log is above)") from None
    print(f"\npipeline finished in {result['seconds']} s")
    print(f"report:    {_shown(result['report'])}")
    print(f"decision:  {decision_line(result['decision'])}")
    print(f"models:    {_shown(result['models'])} (champion.json names the current champion)")
    print(f"artifacts: {_shown(Path(args.out) / 'pipeline_root')}")
    steps = next_steps(result, args.data)
    print("\nnext:\n" + "\n".join(f"  {number}. {step}" for number, step in enumerate(steps, 1)))
    return 0


def next_steps(result: dict[str, Any], data: str | Path) -> list[str]:
    """The three things to do after a run: read the report, predict with the model it blessed (or, not
    blessed, the one it made), look at the training curves of this run."""
    decision = result["decision"]
    blessed = decision["blessed"] and decision.get("model_uri")
    model = _shown(decision["model_uri"] if blessed else result["quantized"])
    which = "the model it blessed" if blessed else "this run's model (not blessed: the report says why)"
    from tinysign.data.video import VIDEO_EXTENSIONS

    clip = next((p for p in sorted(Path(data).rglob("*")) if p.suffix.lower() in VIDEO_EXTENSIONS), None)
    return [
        f"open the report in a browser: {_shown(result['report'])}",
        f"predict with {which}: {_tinysign()} predict --model {model} {_shown(clip) if clip else 'VIDEO'}",
        f"training curves of this run: make tensorboard logdir={_shown(result['tensorboard'])}",
    ]


def _tinysign() -> str:
    """How to call ``tinysign`` from here: by name when it is on PATH, else this environment's script."""
    script = Path(sys.executable).parent / "tinysign"
    return "tinysign" if shutil.which("tinysign") or not script.exists() else _shown(script)


def _shown(path: str | Path) -> str:
    """``path`` relative to the working folder when it is under it (shorter to copy)."""
    path = Path(os.path.abspath(path))  # not resolved: .venv/bin/tinysign stays itself
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.local_run", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return run(args)
    except TinysignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
