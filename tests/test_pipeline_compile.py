"""Compiling the pipeline is a test: load the YAML and check tasks, edges, the dsl.If gates, resources,
retries, caching, defaults, parameter descriptions and the image — with no cloud variable set."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from pipelines.compile import compile_pipeline
from tinysign.config import STAGE_KEYS, Config
from tinysign.ops.env import pipeline_image

# every task (those inside a dsl.If group too) and the tasks it waits for
EDGES = {
    "data-version": set(),
    "ingest": {"resolve-config", "data-version"},
    "extract": {"ingest", "resolve-config"},
    "train": {"extract", "resolve-config"},
    "quantize": {"train", "extract", "resolve-config"},
    "evaluate": {"quantize", "extract", "resolve-config"},
    "mcu-check": {"quantize", "extract", "resolve-config"},
    "enroll": {"quantize", "resolve-config"},
    "no-enrollment": {"quantize", "resolve-config"},
    "bless": {"quantize", "evaluate", "mcu-check", "resolve-config", "data-version"},
    "push": {"bless", "quantize", "evaluate", "mcu-check", "resolve-config"},
    "report": {
        "ingest",
        "extract",
        "train",
        "quantize",
        "evaluate",
        "mcu-check",
        "condition-branches-1",  # enroll or no-enrollment: the summary comes through dsl.OneOf
        "bless",
        "resolve-config",
        "data-version",
    },
}
# the steps that run only when they have something to do
GATES = {
    "enroll": ["inputs.parameter_values['pipelinechannel--enroll_data'] != ''"],
    "no-enrollment": ["!(inputs.parameter_values['pipelinechannel--enroll_data'] != '')"],
    "push": ["inputs.parameter_values['pipelinechannel--bless-Output'] == 'pushed'"],
}


@pytest.fixture
def spec(tmp_path, no_cloud_env) -> dict:
    start = time.perf_counter()
    path = compile_pipeline(tmp_path / "pipeline.yaml")
    assert time.perf_counter() - start < 15
    return yaml.safe_load(path.read_text())


def test_tasks_edges_and_gates(spec):
    tasks = interface(spec)["tasks"]
    assert set(tasks) == {"resolve-config", *EDGES}
    for name, upstream in EDGES.items():
        assert set(tasks[name]["depends"]) == upstream, name
        assert tasks[name]["when"] == GATES.get(name, []), name
    outputs = spec["root"]["dag"]["outputs"]
    assert set(outputs["artifacts"]) == {"report", "blessing", "model", "quantized"}
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["report"]["inputs"]["parameters"]["enrollment"]["taskOutputParameter"] == {
        "outputParameterKey": "pipelinechannel--condition-branches-1-oneof-1",
        "producerTask": "condition-branches-1",
    }
    assert tasks["train"]["inputs"]["artifacts"]["records"]["taskOutputArtifact"] == {
        "outputArtifactKey": "records",
        "producerTask": "extract",
    }
    outputs = spec["root"]["dag"]["outputs"]["artifacts"]
    assert outputs["report"]["artifactSelectors"][0]["producerSubtask"] == "report"
    assert (
        spec["root"]["outputDefinitions"]["artifacts"]["report"]["artifactType"]["schemaTitle"]
        == "system.HTML"
    )


def test_resources_retries_caching_display_names(spec):
    tasks = leaf_tasks(spec)
    executors = spec["deploymentSpec"]["executors"]
    train = executors["exec-train"]["container"]["resources"]
    assert train["resourceCpuLimit"] == "8" and train["resourceMemoryLimit"] == "16G"
    assert executors["exec-extract"]["container"]["resources"]["resourceCpuLimit"] == "4"
    assert "accelerator" not in train
    for name, (task, _, _) in tasks.items():
        assert task["cachingOptions"].get("enableCache", False) is (
            name not in ("bless", "data-version", "enroll", "push")
        ), name
        assert ("retryPolicy" in task) is (name in ("extract", "train")), name
        assert task["taskInfo"]["name"] and task["taskInfo"]["name"] != name, name
    assert tasks["train"][0]["retryPolicy"]["maxRetryCount"] == 2
    assert tasks["train"][0]["taskInfo"]["name"] == "Train"


def test_every_parameter_is_described_for_the_run_form(spec):
    """KFP copies the docstring ``Args:`` into the YAML: the pipeline's parameters and each component's."""
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert len(params) == 22
    undescribed = [name for name, p in params.items() if len(p.get("description", "")) < 20]
    assert not undescribed, undescribed
    assert params["epochs"]["description"].startswith("Training epochs")
    assert params["enroll_data"]["description"].endswith("empty = the step is skipped.")
    for name, component in spec["components"].items():
        if "dag" in component:
            continue  # a dsl.If group: its inputs are the compiler's channels
        inputs = component.get("inputDefinitions", {})
        for kind in ("parameters", "artifacts"):
            for key, value in inputs.get(kind, {}).items():
                assert value.get("description"), (name, key)
    assert spec["pipelineInfo"]["description"].startswith("Sign-language videos -> TFRecords -> a streaming")


def test_parameters_default_to_the_config(spec):
    params = spec["root"]["inputDefinitions"]["parameters"]
    d = Config()
    assert "defaultValue" not in params["data"] and not params["data"].get("isOptional")
    expected = {
        "img_size": 64,
        "num_frames": 24,
        "min_per_class": 18,
        "max_per_class": 25,
        "train_ratio": 0.7,
        "val_ratio": 0.2,
        "test_ratio": 0.1,
        "epochs": 40,
        "batch_size": 32,
        "quantization": "ptq",
        "model": "streaming",
        "arena_budget_bytes": d.arena_budget_bytes,
        "flash_budget_bytes": d.flash_budget_bytes,
        "min_int8_accuracy": d.min_int8_accuracy,
        "max_int8_drop": d.max_int8_drop,
        "destination": "",
        "model_registry": "",
        "beam_args": [],
        "config_overrides": {},
    }
    for name, value in expected.items():
        assert params[name]["defaultValue"] == value, name
    assert params["fps_targets"]["defaultValue"] == [10, 15, 30, 50]
    assert params["fps_targets"]["parameterType"] == "LIST"
    assert params["epochs"]["parameterType"] == "NUMBER_INTEGER"


def test_components_are_lightweight_on_our_image(spec):
    for name, executor in spec["deploymentSpec"]["executors"].items():
        container = executor["container"]
        assert container["image"] == Config().image == pipeline_image({}), name
        program = " ".join(container["command"])
        assert "pip install" not in program, name  # install_kfp_package=False: the image has kfp
        assert "from tinysign" in program, name  # the body imports the package...
        assert program.count("def ") == 1, name  # ...and defines nothing but the wrapper


def test_image_from_env_and_gpu_option(tmp_path, no_cloud_env, monkeypatch):
    monkeypatch.setenv("IMAGE_URI", "europe-docker.pkg.dev/p/r/tinysign:abc123")
    gpu_image = "europe-docker.pkg.dev/p/r/tinysign-gpu:abc123"
    path = compile_pipeline(
        tmp_path / "gpu.yaml", train_accelerator="NVIDIA_TESLA_T4", train_gpus=2, train_image=gpu_image
    )
    spec = yaml.safe_load(path.read_text())
    executors = spec["deploymentSpec"]["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items()}
    assert images.pop("exec-train") == gpu_image
    assert set(images.values()) == {"europe-docker.pkg.dev/p/r/tinysign:abc123"}
    accelerator = executors["exec-train"]["container"]["resources"]["accelerator"]
    assert accelerator["resourceType"] == "NVIDIA_TESLA_T4" and accelerator["resourceCount"] == "2"
    assert "accelerator" not in executors["exec-quantize"]["container"]["resources"]


def leaf_tasks(spec: dict) -> dict[str, tuple[dict, list[str], list[str]]]:
    """Every task that runs a component, inside dsl.If groups too: ``{name: (task, the tasks it or its
    groups wait for, the conditions of its groups)}``."""
    found: dict[str, tuple[dict, list[str], list[str]]] = {}

    def walk(dag: dict, waits: list[str], when: list[str]) -> None:
        for name, task in dag["tasks"].items():
            component = spec["components"][task["componentRef"]["name"]]
            condition = task.get("triggerPolicy", {}).get("condition")
            inside = [*when, condition] if condition else when
            own = sorted({*waits, *task.get("dependentTasks", [])})
            if "dag" in component:
                walk(component["dag"], own, inside)
            else:
                found[name] = (task, own, inside)

    walk(spec["root"]["dag"], [], [])
    return found


def interface(spec: dict) -> dict:
    """What users and caches see of a compiled pipeline: its parameters and every task's caching,
    upstream tasks, the conditions it runs under, inputs and retries."""
    root = spec["root"]
    return {
        "parameters": {
            name: [p["parameterType"], p.get("defaultValue")]
            for name, p in root["inputDefinitions"]["parameters"].items()
        },
        "tasks": {
            name: {
                "caching": task.get("cachingOptions", {}).get("enableCache", False),
                "depends": waits,
                "when": when,
                "parameters": sorted(task.get("inputs", {}).get("parameters", {})),
                "artifacts": sorted(task.get("inputs", {}).get("artifacts", {})),
                "retry": task.get("retryPolicy", {}).get("maxRetryCount", 0),
            }
            for name, (task, waits, when) in leaf_tasks(spec).items()
        },
    }


def test_interface_is_unchanged(spec):
    """tests/data/pipeline_interface.json pins the interface (written before the module restructuring,
    updated when data-version replaced the data_version parameter, when the enroll step and its
    enroll_data parameter were added, and when enroll and push went behind dsl.If gates, bless started
    recording the whole config and the report its run id and data fingerprint); change it only together
    with a deliberate change of the pipeline's interface."""
    expected = json.loads((Path(__file__).parent / "data" / "pipeline_interface.json").read_text())
    assert interface(spec) == expected


def test_typed_parameters_are_declared_once():
    """resolve_config's signature declares the typed config parameters; the pipeline derives its own."""
    import inspect
    import typing

    from pipelines.components import resolve_config
    from pipelines.training_pipeline import RUN_PARAMETERS, pipeline_signature, typed_config_keys

    hints = typing.get_type_hints(Config)
    declared = inspect.signature(resolve_config).parameters
    for key in typed_config_keys():
        kfp_type = list[int] if hints[key] == tuple[int, ...] else hints[key]
        assert declared[key].annotation == kfp_type, key
    signature = pipeline_signature()
    assert list(signature.parameters) == [p[0] for p in RUN_PARAMETERS] + typed_config_keys()
    assert signature.parameters["epochs"].default == Config().epochs
    outputs = typing.get_type_hints(resolve_config)["return"]._fields
    assert outputs == (*STAGE_KEYS, "full")  # resolve_config returns the slices in STAGE_KEYS order
