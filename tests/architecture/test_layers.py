"""The one-way layers of localsage are enforced by import-linter (`./dev lint`): prove the contracts pass on the
tree, and fail on a copy with an upward import, an import cycle, or a module outside every layer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path) -> Path:
    shutil.copytree(REPO / "localsage", tmp_path / "localsage", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_both_contracts(copy):
    checked = lint_imports(copy)
    assert checked.returncode == 0, checked.stdout
    assert "Contracts: 2 kept, 0 broken." in checked.stdout


def test_an_upward_import_breaks_the_layers(copy):
    config = copy / "localsage" / "facts" / "config.py"
    config.write_text(config.read_text() + "\nfrom localsage.views import console  # noqa: E402\n")
    checked = lint_imports(copy)
    assert checked.returncode != 0
    assert "localsage.facts.config -> localsage.views.console" in checked.stdout


def test_a_cycle_between_modules_of_one_package_is_refused(copy):
    for name, other in (("definition", "cache"), ("cache", "definition")):
        module = copy / "localsage" / "runner" / f"{name}.py"
        module.write_text(module.read_text() + f"\nfrom localsage.runner import {other}  # noqa: E402\n")
    checked = lint_imports(copy)
    assert checked.returncode != 0
    assert "No import cycles between sibling packages or modules BROKEN" in checked.stdout


def test_a_module_outside_every_layer_is_refused(copy):
    (copy / "localsage" / "helpers.py").write_text('"""Belongs to no layer."""\n')
    checked = lint_imports(copy)
    assert checked.returncode != 0
    assert "localsage.helpers" in checked.stdout
