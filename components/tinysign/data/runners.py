"""Where extraction's Beam pipeline runs: the runner names of ``tinysign extract --runner``, the Beam
options each one means, and running a pipeline to the end on any of them.

* ``direct`` — this machine: Beam's in-process FnApiRunner, or with ``beam_workers`` > 1 the
  DirectRunner with that many worker processes (both offline; Beam's default, Prism, downloads).
* ``portable`` — the portable path every non-Direct runner takes: the pipeline goes to a job service
  (Beam's embedded one, or a Flink/Spark job server given with ``-- --job_endpoint=HOST:PORT``) and
  its steps run in the SDK workers of an external worker pool at ``address``.
* ``dask`` — Beam's Dask runner on the ``dask.distributed`` scheduler at ``address``.
* ``dataflow`` — Google Cloud Dataflow (project, region, temp location, image after ``--``).

Imports no Beam at module level: the CLI reads the runner names before any pipeline exists.
"""

from __future__ import annotations

import socket
from typing import Any

from tinysign.errors import TinysignError

RUNNERS = ("direct", "portable", "dask", "dataflow")
LOCAL_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
DASK_RUNNER = "apache_beam.runners.dask.dask_runner.DaskRunner"  # not registered under a short name
# runner -> (what listens at --address, the address's form)
ADDRESSED = {
    "portable": ("the SDK worker pool", "HOST:PORT"),
    "dask": ("the Dask scheduler", "tcp://HOST:PORT"),
}


def runner_args(runner: str, address: str = "") -> list[str]:
    """The Beam options that run extraction on ``runner``, whose engine listens at ``address``."""
    if runner not in RUNNERS:
        raise TinysignError(f"--runner {runner!r}: choose one of {', '.join(RUNNERS)}")
    if runner in ADDRESSED and not address:
        engine, form = ADDRESSED[runner]
        raise TinysignError(f"--runner {runner} needs --address {form} ({engine})")
    if runner not in ADDRESSED and address:
        raise TinysignError(f"--address is for --runner {' or '.join(ADDRESSED)}, not {runner}")
    return {
        "direct": [],
        "portable": [
            "--runner=PortableRunner",
            "--job_endpoint=embed",
            "--environment_type=EXTERNAL",
            f"--environment_config={address}",
        ],
        "dask": [f"--runner={DASK_RUNNER}", f"--dask_client_address={address}"],
        "dataflow": ["--runner=DataflowRunner"],
    }[runner]


def check_engine(runner: str, address: str, timeout: float = 10.0) -> None:
    """Fail with one line, before any pipeline is built, when nothing listens at ``address`` (a typo, or
    the worker pool / scheduler not started)."""
    if runner not in ADDRESSED:
        return
    engine, form = ADDRESSED[runner]
    host, _, port = address.rpartition("://")[2].rpartition(":")
    if not (host and port.isdigit()):
        raise TinysignError(f"--address {address}: expected {form} ({engine})")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise TinysignError(
            f"--runner {runner}: nothing answers at {address} ({exc.strerror or exc}): start {engine} "
            "there or fix --address"
        ) from None


def runs_elsewhere(beam_args: list[str]) -> bool:
    """Whether ``beam_args`` send the work to other machines (any runner but Beam's local ones): then
    what the workers write must go where every worker reaches it (``gs://``), not to a local path."""
    runners = [a.partition("=")[2] for a in beam_args if a.startswith("--runner=")]
    runners += [beam_args[i + 1] for i, a in enumerate(beam_args[:-1]) if a == "--runner"]
    return any(runner not in ("DirectRunner", LOCAL_RUNNER) for runner in runners)


def beam_options(beam_args: list[str] | None, workers: int = 1) -> Any:
    """Pipeline options: ``beam_args`` as given, else the in-process runner, or with ``workers`` > 1 the
    DirectRunner with that many worker processes."""
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(beam_args or [])
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        if workers > 1:
            args += [
                "--runner=DirectRunner",
                "--direct_running_mode=multi_processing",
                f"--direct_num_workers={workers}",
            ]
        else:
            args.append(f"--runner={LOCAL_RUNNER}")
    return PipelineOptions(args)


def run_to_completion(pipeline: Any) -> dict[str, int]:
    """Run ``pipeline`` and wait for it; its counters by name, or ``{}`` from a runner that keeps
    none (Beam's Dask runner raises NotImplementedError for metrics)."""
    result = pipeline.run()  # in-process runners run here: a bug in a step raises with its traceback
    try:
        result.wait_until_finish()
    except Exception as exc:  # a remote engine's failure: its own log has the worker's traceback
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TinysignError(f"the Beam pipeline failed: {first_line} (the runner's log says why)") from exc
    finally:
        client = getattr(result, "client", None)  # the Dask runner leaves its scheduler connection open
        if client is not None:
            client.close()
    try:
        counters = result.metrics().query()["counters"]
    except NotImplementedError:
        return {}
    return {c.key.metric.name: c.committed for c in counters}
