"""The module structure is checked, not hoped for: stages import subpackages, never another stage,
and no subpackage has an import cycle (import-linter contracts in pyproject.toml, run by make lint)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinysign

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_root: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's import contracts on the ``tinysign`` package found under ``package_root``."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=package_root,
        env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(
        Path(tinysign.__file__).parent, root / "tinysign", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def test_the_package_keeps_its_contracts() -> None:
    result = lint_imports(REPO / "components")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "evaluate.py",
            "from tinysign import train  # noqa",
            "tinysign.evaluate is not allowed to import tinysign.train",
        ),
        ("data/records.py", "from tinysign.data import clips  # noqa", "No import cycles"),
        (
            "model/files.py",
            "from tinysign.runtime import litert  # noqa",
            "tinysign.model is not allowed to import",
        ),
    ],
)
def test_a_broken_rule_fails_lint(tmp_path: Path, module: str, line: str, broken: str) -> None:
    root = copy_package(tmp_path)
    path = root / "tinysign" / module
    path.write_text(path.read_text() + f"\n{line}\n")
    result = lint_imports(root)
    assert result.returncode != 0 and broken in result.stdout, result.stdout + result.stderr
