"""The module structure is checked, not hoped for: stages import subpackages, never another stage;
workflows sit above the stages; every module of ``tinysign`` and ``pipelines`` is placed in a layer
(a new one fails until it is); ``tinysign`` never imports ``pipelines``; no subpackage has an import
cycle (import-linter contracts in pyproject.toml, run by make lint)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinysign

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(*roots: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's import contracts on the ``tinysign`` and ``pipelines`` found under ``roots``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=roots[0],
        env={"PYTHONPATH": ":".join(map(str, roots)), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def copy_packages(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.yaml")
    shutil.copytree(Path(tinysign.__file__).parent, root / "tinysign", ignore=ignore)
    shutil.copytree(REPO / "pipelines", root / "pipelines", ignore=ignore)
    return root


def test_the_package_keeps_its_contracts() -> None:
    result = lint_imports(REPO / "components", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "tinysign/evaluate.py",
            "from tinysign import train  # noqa",
            "tinysign.evaluate is not allowed to import tinysign.train",
        ),
        (
            "tinysign/train.py",
            "from tinysign.workflows import crossval  # noqa",
            "tinysign.train is not allowed to import tinysign.workflows",
        ),
        ("tinysign/data/records.py", "from tinysign.data import clips  # noqa", "No import cycles"),
        (
            "tinysign/model/files.py",
            "from tinysign.runtime import litert  # noqa",
            "tinysign.model is not allowed to import",
        ),
        ("tinysign/helpers.py", "import json  # noqa", "- tinysign.helpers"),  # a new, unplaced module
        (
            "tinysign/data/storage.py",
            "import pipelines.components  # noqa",
            "tinysign is not allowed to import pipelines",
        ),
        (
            "pipelines/components.py",
            "from pipelines import training_pipeline  # noqa",
            "pipelines.components is not allowed to import pipelines.training_pipeline",
        ),
        ("pipelines/submit.py", "import json  # noqa", "- pipelines.submit"),
    ],
)
def test_a_broken_rule_fails_lint(tmp_path: Path, module: str, line: str, broken: str) -> None:
    root = copy_packages(tmp_path)
    path = root / module
    path.write_text((path.read_text() if path.exists() else "") + f"\n{line}\n")
    result = lint_imports(root)
    assert result.returncode != 0 and broken in result.stdout, result.stdout + result.stderr
