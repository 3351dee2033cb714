"""Developer tasks: lint (ruff, import-linter's layer contracts, the lock's freshness) and test."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from localsage.commands import lock
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.views.console import say


def lint(root: Path | None = None) -> None:
    root = root or project_config.project_root()
    for command in (["check", "."], ["format", "--check", "."]):
        _run([sys.executable, "-m", "ruff", *command], root, f"ruff {command[0]}")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    _run([str(lint_imports), "--no-cache", "--no-logo", "--config", str(root / "pyproject.toml")], root, "lint-imports")
    say(lock.lock(root, check=True, say=say))


def test(k: str = "", run_lint: bool = True, extra: str = "", root: Path | None = None) -> None:
    root = root or project_config.project_root()
    if run_lint:
        lint(root)
    command = [sys.executable, "-m", "pytest"]
    if k:
        command += ["-k", k]
    _run(command + shlex.split(extra), root, "pytest")


def _run(command: list[str], root: Path, what: str) -> None:
    completed = subprocess.run(command, cwd=root)
    if completed.returncode != 0:
        raise UserError(f"{what} failed (exit code {completed.returncode})", exit_code=completed.returncode)
