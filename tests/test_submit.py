"""Submit and schedule against loopback servers on 127.0.0.1 that record the requests.

The real ``kfp.Client`` and ``google-cloud-aiplatform`` SDKs talk to :mod:`tests.loopback`; GCS
staging goes to gcp-storage-emulator. The tests assert on what the servers received: pipeline
spec, parameters, cron, service account.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from pipelines.compile import compile_pipeline
from tests.loopback import RecordingServer, kfp_routes, storage_emulator, vertex_routes
from tests.test_pipeline_compile import leaf_tasks
from tinysign.config import Config
from tinysign.errors import TinysignError
from tinysign.ops import schedule, submit
from tinysign.ops.cron import kfp_cron, vertex_cron
from tinysign.ops.env import parse_bool, read_env
from tinysign.ops.kfp_io import CONFIG_OVERRIDES
from tinysign.ops.runs import RunRow, compare_table

SA = "trainer@proj.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return compile_pipeline(tmp_path_factory.mktemp("pkg") / "pipeline.yaml", image="tinysign:test")


@pytest.fixture
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.json"
    path.write_text('{"epochs": 3, "augment_copies": 1, "data": "gs://data-bucket/videos"}')
    return path


@pytest.fixture(autouse=True)
def clean_env(no_cloud_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp.Client reads ~/.config/kfp/context.json


def cli(module, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv), Config())


# --- env and cron -------------------------------------------------------------------------------------


def test_env_is_read_in_one_place_with_strict_bools():
    env = read_env({"BUCKET": "gs://my-bucket/", "PROJECT_ID": "p", "ENABLE_CACHING": "False"})
    assert env.pipeline_root == "gs://my-bucket/pipeline-root" and env.model_destination == "gs://my-bucket"
    assert env.enable_caching is False and read_env({}).enable_caching is None
    assert read_env({"PIPELINE_ROOT": "gs://other/root", "BUCKET": "b"}).pipeline_root == "gs://other/root"
    assert parse_bool("X", " ON ") is True and parse_bool("X", "0") is False
    with pytest.raises(TinysignError, match="ENABLE_CACHING='maybe' is not a boolean"):
        read_env({"ENABLE_CACHING": "maybe"})
    with pytest.raises(TinysignError, match="REGISTER_MODEL='2' is not a boolean"):
        read_env({"REGISTER_MODEL": "2"})
    assert read_env({"REGISTER_MODEL": "True"}).register_model and not read_env({}).register_model
    with pytest.raises(TinysignError, match="PROJECT_ID, REGION, PIPELINE_ROOT not set for --target vertex"):
        read_env({}).require("vertex")


@pytest.mark.parametrize(
    ("given", "kfp", "vertex"),
    [
        ("0 3 * * 1", "0 0 3 * * 1", "0 3 * * 1"),
        ("0 0 3 * * 1", "0 0 3 * * 1", "0 3 * * 1"),
        ("*/15 9-17 * * mon-fri", "0 */15 9-17 * * mon-fri", "*/15 9-17 * * mon-fri"),
        ("@weekly", "0 0 0 * * 0", "0 0 * * 0"),
    ],
)
def test_cron_is_converted_for_each_target(given, kfp, vertex):
    assert kfp_cron(given) == kfp
    assert vertex_cron(given) == vertex


def test_cron_errors_are_one_clear_line():
    assert vertex_cron("TZ=Europe/Berlin 0 3 * * 1") == "TZ=Europe/Berlin 0 3 * * 1"
    for bad, message in [
        ("0 3 * *", "need 5 fields"),
        ("61 3 * * *", "minute field '61' is outside 0-59"),
        ("0 25 * * *", "hour field"),
        ("0 3 * 13 *", "month field"),
        ("0 5-2 * * *", "runs backwards"),
        ("0 */0 * * *", "bad step"),
    ]:
        with pytest.raises(TinysignError, match=message):
            kfp_cron(bad)
    with pytest.raises(TinysignError, match="no time-zone prefix"):
        kfp_cron("TZ=Europe/Berlin 0 3 * * 1")
    with pytest.raises(TinysignError, match="seconds field must be 0"):
        vertex_cron("30 0 3 * * 1")


# --- Kubeflow Pipelines -----------------------------------------------------------------------------


def test_kfp_run_and_schedule_requests(package, params_file, monkeypatch, capsys):
    with RecordingServer(kfp_routes) as server:
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("SERVICE_ACCOUNT", SA)
        monkeypatch.setenv("BUCKET", "models-bucket")
        base = ["--target", "kfp", "--package", str(package), "--params", str(params_file)]
        assert cli(submit, [*base, "--name", "nightly-1"]) == 0
        [run] = server.find("POST", r"/apis/v2beta1/runs$")
        body = run.body
        assert body["display_name"] == "nightly-1" and body["service_account"] == SA
        assert body["pipeline_spec"]["pipelineInfo"]["name"] == "tinysign-training"
        assert set(body["pipeline_spec"]["root"]["dag"]["tasks"]) >= {"ingest", "train", "bless", "report"}
        assert body["runtime_config"]["parameters"] == {
            "data": "gs://data-bucket/videos",
            "epochs": 3,
            "destination": "gs://models-bucket",
            CONFIG_OVERRIDES: {"augment_copies": 1},
        }
        assert body["runtime_config"]["pipeline_root"] == "gs://models-bucket/pipeline-root"
        tasks = leaf_tasks(body["pipeline_spec"])  # compiled caching options, not overridden
        assert {n for n, (t, _, _) in tasks.items() if not t["cachingOptions"].get("enableCache")} == {
            "data-version",
            "enroll",
            "bless",
            "push",
        }
        [experiment] = server.find("POST", r"/experiments$")
        assert experiment.body["display_name"] == "tinysign" and body["experiment_id"] == "exp-1"

        assert cli(schedule, [*base, "--cron", "0 3 * * 1", "--name", "weekly"]) == 0
        [created] = server.find("POST", r"/recurringruns$")
        assert created.body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 1"  # KFP: 6 fields
        assert created.body["display_name"] == "weekly" and created.body["service_account"] == SA
        assert int(created.body["max_concurrency"]) == 1 and created.body["mode"] == "ENABLE"
        assert created.body["runtime_config"]["parameters"]["epochs"] == 3
        assert created.body["pipeline_spec"]["pipelineInfo"]["name"] == "tinysign-training"
        recurring_tasks = created.body["pipeline_spec"]["root"]["dag"]["tasks"]
        assert not recurring_tasks["data-version"]["cachingOptions"].get("enableCache")
        assert recurring_tasks["ingest"]["cachingOptions"]["enableCache"]

        capsys.readouterr()
        assert cli(schedule, ["--target", "kfp", "--list"]) == 0
        assert "rr-1\tweekly\t0 0 3 * * 1" in capsys.readouterr().out
        assert cli(schedule, ["--target", "kfp", "--pause", "rr-1"]) == 0
        assert server.find("POST", r"/recurringruns/rr-1:disable$")
        assert cli(schedule, ["--target", "kfp", "--delete", "rr-1"]) == 0
        assert server.find("DELETE", r"/recurringruns/rr-1$")
    assert all(r.path.startswith("/apis/v2beta1/") for r in server.requests)
    assert server.errors == []


def test_submit_needs_the_env_and_valid_params(package, params_file, tmp_path, monkeypatch):
    with pytest.raises(TinysignError, match="KFP_HOST not set for --target kfp"):
        cli(submit, ["--target", "kfp", "--package", str(package), "--params", str(params_file)])
    monkeypatch.setenv("KFP_HOST", "http://127.0.0.1:9")  # nothing listens: must fail before any request
    with pytest.raises(TinysignError, match="a folder on this machine; .* pass the gs:// URI"):
        cli(
            schedule,
            ["--target", "kfp", "--package", str(package), "--cron", "@daily", "--data", str(tmp_path)],
        )
    env = read_env({"KFP_HOST": "http://127.0.0.1:9"})
    with pytest.raises(TinysignError, match="unknown config key.*epochz"):
        submit.run_arguments(package, {"data": "gs://d", "epochz": 3}, env)
    with pytest.raises(TinysignError, match="run `make compile` first"):
        submit.run_arguments(tmp_path / "missing.yaml", {"data": "gs://d"}, env)


# --- Vertex AI ----------------------------------------------------------------------------------------


def test_vertex_run_and_schedule_requests(package, monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    with (
        storage_emulator(monkeypatch, bucket="models-bucket") as emulator,
        RecordingServer(vertex_routes) as server,
    ):
        env = read_env(
            {
                "PROJECT_ID": "proj",
                "REGION": "europe-west4",
                "SERVICE_ACCOUNT": SA,
                "BUCKET": "models-bucket",
                "PIPELINE_ROOT": "gs://pipeline-root-bucket/runs",
                "REGISTER_MODEL": "yes",
                "EXPERIMENT": "fsl-recipes",
            }
        )
        transport = {"credentials": AnonymousCredentials(), "api_endpoint": server.url}
        arguments = submit.run_arguments(
            package, {"data": "gs://data-bucket/videos", "epochs": 3, "augment_copies": 1}, env
        )
        start = time.perf_counter()
        name = submit.submit_run("vertex", package, arguments, env, "nightly-1", **transport)
        assert time.perf_counter() - start < 30  # no wait on a real GCS or metadata server
        assert name.startswith("projects/proj/locations/europe-west4/pipelineJobs/")
        [job] = server.find("POST", r"/v1/projects/proj/locations/europe-west4/pipelineJobs$")
        assert job.body["displayName"] == "nightly-1" and job.body["serviceAccount"] == SA
        assert job.body["pipelineSpec"]["pipelineInfo"]["name"] == "tinysign-training"
        runtime = job.body["runtimeConfig"]
        assert runtime["gcsOutputDirectory"] == "gs://pipeline-root-bucket/runs"
        assert runtime["parameterValues"] == {
            "data": "gs://data-bucket/videos",
            "epochs": 3,
            "destination": "gs://models-bucket",
            CONFIG_OVERRIDES: {"augment_copies": 1},
            "model_registry": "projects/proj/locations/europe-west4",
        }
        # caching: the compiled per-task options travel unchanged (ENABLE_CACHING unset)
        tasks = leaf_tasks(job.body["pipelineSpec"])
        assert {n for n, (t, _, _) in tasks.items() if not t["cachingOptions"].get("enableCache")} == {
            "data-version",
            "enroll",
            "bless",
            "push",
        }
        # EXPERIMENT: the run is associated with a Vertex AI Experiment (created on first use)
        [experiment] = server.find("POST", r"/metadataStores/default/contexts$")
        assert experiment.body["displayName"] == "fsl-recipes"
        assert experiment.body["schemaTitle"] == "system.Experiment"
        [child] = server.find("POST", r"/contexts/fsl-recipes:addContextChildren$")
        assert child.body["childContexts"] == [
            name.replace("pipelineJobs", "metadataStores/default/contexts")
        ]
        # the SDK staged the pipeline root bucket on "GCS" (the emulator), nowhere else
        client = storage.Client(project="proj", client_options={"api_endpoint": emulator})
        assert client.bucket("pipeline-root-bucket").exists()

        schedule_name = schedule.create_schedule(
            "vertex", package, arguments, env, "0 0 3 * * 1", "weekly", **transport
        )
        [created] = server.find("POST", r"/schedules$")
        assert created.body["cron"] == "0 3 * * 1"  # Vertex: 5 fields
        assert created.body["displayName"] == "weekly" and created.body["maxConcurrentRunCount"] == "1"
        request = created.body["createPipelineJobRequest"]["pipelineJob"]
        assert request["serviceAccount"] == SA
        scheduled_tasks = request["pipelineSpec"]["root"]["dag"]["tasks"]
        assert not scheduled_tasks["data-version"]["cachingOptions"].get("enableCache")
        assert scheduled_tasks["extract"]["cachingOptions"]["enableCache"]
        assert request["runtimeConfig"]["parameterValues"]["epochs"] == 3
        assert request["pipelineSpec"]["pipelineInfo"]["name"] == "tinysign-training"

        listed = schedule.list_schedules("vertex", env, **transport)
        assert listed == [{"id": schedule_name, "name": "weekly", "cron": "0 3 * * 1", "state": "ACTIVE"}]
        schedule.change_schedule("vertex", env, schedule_name, "pause", **transport)
        assert server.find("POST", r"/schedules/\d+:pause$")
        assert schedule.list_schedules("vertex", env, **transport)[0]["state"] == "PAUSED"
        schedule.change_schedule("vertex", env, schedule_name, "delete", **transport)
        assert server.find("DELETE", r"/schedules/\d+$")
        assert schedule.list_schedules("vertex", env, **transport) == []
    assert server.errors == []


def test_enable_caching_set_explicitly_overrides_every_task(package, params_file, monkeypatch):
    """ENABLE_CACHING=false is the user's explicit choice: the client turns caching off for every task.

    The KFP client (``_override_caching_options``) reaches only the root DAG's tasks: those inside the
    dsl.If groups keep what they were compiled with — enroll and push never cache, and no-enrollment
    (a constant: the empty enrollment summary) may come from the cache either way.
    """
    with RecordingServer(kfp_routes) as server:
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("ENABLE_CACHING", "false")
        assert cli(submit, ["--target", "kfp", "--package", str(package), "--params", str(params_file)]) == 0
        [run] = server.find("POST", r"/apis/v2beta1/runs$")
        tasks = leaf_tasks(run.body["pipeline_spec"])
        cached = {name for name, (t, _, _) in tasks.items() if t["cachingOptions"].get("enableCache")}
        assert len(tasks) == 13 and cached == {"no-enrollment"}


def test_compare_shows_the_settings_that_produced_two_runs():
    """Two runs side by side: what changed in the results, and the config keys set differently."""
    a = RunRow(
        "run-a", {"INT8": 0.8, "model": "streaming"}, {"min INT8 accuracy": True}, {"epochs": 30, "seed": 1}
    )
    b = RunRow(
        "run-b", {"INT8": 0.4, "model": "streaming"}, {"min INT8 accuracy": False}, {"epochs": 60, "seed": 1}
    )
    rows = {row[0]: row[1:] for row in compare_table(a, b).rows}
    assert rows["config: epochs"][:2] == (30, 60) and str(rows["config: epochs"][2]) == "changed"
    assert "config: seed" not in rows and str(rows["model"][2]) == "same"
    assert str(rows["check: min INT8 accuracy"][2]) == "changed"
    assert compare_table(a, b).note == "1 config key(s) set differently."
    assert "config not compared" in compare_table(a, RunRow("old", {})).note


def test_runs_lists_vertex_jobs_with_their_decisions(monkeypatch):
    """tinysign runs --target vertex: pipeline jobs through the Vertex client, bless.json from GCS."""
    from google.auth.credentials import AnonymousCredentials

    from tinysign.data import storage as paths
    from tinysign.ops.runs import compare_table, vertex_runs

    with storage_emulator(monkeypatch, bucket="root"), RecordingServer(vertex_routes) as server:
        env = read_env({"PROJECT_ID": "proj", "REGION": "europe-west4", "PIPELINE_ROOT": "gs://root/runs"})
        transport = {"credentials": AnonymousCredentials(), "api_endpoint": server.url}
        jobs = server.state.setdefault("jobs", {})
        names = [f"projects/proj/locations/europe-west4/pipelineJobs/week-{k}" for k in (1, 2)]
        for week, (name, accuracy, fingerprint) in enumerate(
            zip(names, (0.4, 0.5), ("aaa", "bbb"), strict=True), start=1
        ):
            uri = f"gs://root/runs/{week}/bless/blessing"
            jobs[name] = {
                "name": name,
                "displayName": f"week-{week}",
                "state": "PIPELINE_STATE_SUCCEEDED",
                "jobDetail": {
                    "taskDetails": [
                        {"taskName": "bless", "outputs": {"blessing": {"artifacts": [{"uri": uri}]}}}
                    ]
                },
            }
            decision = {
                "blessed": week == 2,
                "outcome": "pushed" if week == 2 else "refused",
                "int8_accuracy": accuracy,
                "float_accuracy": accuracy,
                "data_version": fingerprint,
                "decided_at": f"2026-12-0{week}T03:00:00+00:00",
                "checks": [
                    {
                        "name": "min INT8 accuracy",
                        "passed": week == 2,
                        "value": accuracy,
                        "threshold": 0.45,
                        "detail": "",
                    }
                ],
                "measured": {"model": "streaming", "arena_bytes": 15_000, "flash_bytes": 70_000},
            }
            paths.write_text(paths.join(uri, "bless.json"), json.dumps(decision))
        rows = vertex_runs(env, **transport)
    assert [r.run for r in rows] == ["week-1", "week-2"]
    assert rows[0].values["decision"] == "NOT BLESSED (refused)" and rows[1].values["INT8"] == 0.5
    changed = {row[0] for row in compare_table(*rows).rows if str(row[-1]) == "changed"}
    assert changed == {"date", "data fingerprint", "INT8", "float32", "decision", "check: min INT8 accuracy"}
    assert server.find("GET", r"/pipelineJobs$")
