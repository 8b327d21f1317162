"""cloudbuild/cloudbuild.yaml: valid, every substitution defined, lint + tests before the push, images
tagged by commit, the pipeline compiled against the pushed image and uploaded; its scripts run here."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_docker import IMAGE_NAMES, parse_dockerfile, run_script

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "cloudbuild" / "cloudbuild.yaml"
BUILTINS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REVISION_ID",
    "COMMIT_SHA",
    "SHORT_SHA",
    "TRIGGER_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
    "_HEAD_BRANCH",
    "_BASE_BRANCH",
    "_HEAD_REPO_URL",
    "_PR_NUMBER",
}
# What a trigger on main would substitute, for running the steps' scripts here.
EXAMPLE = {
    "PROJECT_ID": "my-project",
    "SHORT_SHA": "abc1234",
    "COMMIT_SHA": "abc1234" + "0" * 33,
    "BRANCH_NAME": "main",
    "REPO_FULL_NAME": "owner/tinysign",
}
SUBSTITUTION = re.compile(r"(?<!\$)\$(?:\{(\w+)\}|(\w+))")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG.read_text())


def steps_by_id(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step for step in config["steps"]}


def used_substitutions(node: Any) -> set[str]:
    text = yaml.safe_dump(node).replace("$$", "")
    return {a or b for a, b in SUBSTITUTION.findall(text)}


def substitute(text: str, values: dict[str, str]) -> str:
    """Cloud Build's substitution: $X / ${X} replaced, $$ is a literal $ (dynamic substitutions on)."""
    text = text.replace("$$", "\0")
    for _ in range(3):  # user substitutions may refer to others
        text = SUBSTITUTION.sub(lambda m: values[m.group(1) or m.group(2)], text)
    return text.replace("\0", "$")


def example_values(config: dict[str, Any]) -> dict[str, str]:
    return {**EXAMPLE, **{k: str(v) for k, v in config["substitutions"].items()}}


def step_env(config: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    values = example_values(config)
    pairs = [substitute(item, values) for item in config["options"].get("env", []) + step.get("env", [])]
    return dict(pair.split("=", 1) for pair in pairs)


def test_config_is_valid_yaml_with_ordered_steps(config: dict[str, Any]) -> None:
    steps = steps_by_id(config)
    assert len(steps) == len(config["steps"]), "step ids are unique"
    for step in config["steps"]:
        assert step["name"] and isinstance(step.get("args", []), list)
        assert set(step.get("waitFor", [])) <= set(steps), step["id"]
    assert config["options"]["substitutionOption"] == "MUST_MATCH"
    assert config["options"]["dynamicSubstitutions"] is True
    assert int(config["timeout"].rstrip("s")) <= 4 * 3600


def test_every_substitution_is_defined_and_used(config: dict[str, Any]) -> None:
    declared = set(config["substitutions"])
    used = used_substitutions({k: v for k, v in config.items() if k != "substitutions"})
    used_in_values = used_substitutions(config["substitutions"])
    assert all(name.startswith("_") for name in declared)
    assert (used | used_in_values) - declared <= BUILTINS, "undefined substitution"
    assert declared <= used | used_in_values, f"MUST_MATCH fails on unused {declared - used - used_in_values}"


def test_lint_and_tests_run_before_anything_is_pushed(config: dict[str, Any]) -> None:
    steps = steps_by_id(config)
    build = steps["test-image"]["args"]
    assert build[build.index("--target") + 1] == "test" and "docker/Dockerfile" in build
    assert "test" in {s.name for s in parse_dockerfile()}
    tests = steps["lint-and-test"]["args"]
    image = build[build.index("--tag") + 1]
    assert tests[-3:] == [image, "lint", "test"], "make lint test in the test image (ENTRYPOINT make)"
    assert "lint-and-test" in steps["push-images"]["waitFor"]
    assert "build-images" in steps["push-images"]["waitFor"]


def test_images_are_built_and_pushed_tagged_by_commit(config: dict[str, Any]) -> None:
    steps = steps_by_id(config)
    values = example_values(config)
    targets = substitute(config["substitutions"]["_IMAGE_TARGETS"], values).split()
    assert "pipeline" in targets and set(targets) <= set(IMAGE_NAMES)
    assert steps["build-images"]["args"][0] == "docker/build.sh"
    assert steps["push-images"]["args"][0] == "docker/push.sh"
    env = step_env(config, steps["build-images"])
    assert env["GIT_SHA"] == EXAMPLE["SHORT_SHA"] and env["REVISION"] == EXAMPLE["COMMIT_SHA"]
    for step_id, verb in (("build-images", "--tag"), ("push-images", "push")):
        args = [substitute(a, values) for a in steps[step_id]["args"]]
        done = run_script(args[0], *args[1:], env={**env, "DRY_RUN": "1"})
        assert done.returncode == 0, done.stderr
        refs = [(c := shlex.split(line))[c.index(verb) + 1] for line in done.stdout.splitlines()]
        repo = "europe-west4-docker.pkg.dev/my-project/tinysign-dev"
        version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)
        assert version and refs == [f"{repo}/{IMAGE_NAMES[t]}:{version.group(1)}-abc1234" for t in targets]
    assert ":latest" not in CONFIG.read_text()


def test_pipeline_is_compiled_against_the_pushed_image_and_uploaded(config: dict[str, Any]) -> None:
    steps = steps_by_id(config)
    compile_script = steps["compile-pipeline"]["args"][-1]
    assert "push-images" in steps["compile-pipeline"]["waitFor"]
    assert 'compile "IMAGE_URI=$$uri"' in compile_script and "docker/image-uri.sh pipeline" in compile_script
    assert "pipelines/training_pipeline.yaml" in compile_script
    upload = steps["upload-pipeline"]
    assert upload["waitFor"] == ["compile-pipeline"]
    assert "content=@pipelines/training_pipeline.yaml" in upload["args"][-1]
    assert "${_PIPELINE_REPO_URL}" in upload["args"][-1] and "tags=$SHORT_SHA" in upload["args"][-1]
    # the URI the compile step computes is the one push-images pushed
    env = step_env(config, steps["compile-pipeline"])
    uri = run_script("docker/image-uri.sh", "pipeline", env=env).stdout.strip()
    assert uri == f"europe-west4-docker.pkg.dev/my-project/tinysign-dev/tinysign:{uri.rsplit(':', 1)[1]}"
    assert uri.endswith("-abc1234")


def test_step_scripts_are_valid_bash(config: dict[str, Any]) -> None:
    values = example_values(config)
    scripts = [s for s in config["steps"] if s.get("entrypoint") == "bash" and "-c" in s["args"]]
    assert len(scripts) >= 2
    for step in scripts:
        script = substitute(step["args"][-1], values)
        assert "$$" not in script and "${_" not in script
        done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, f"{step['id']}: {done.stderr}"
