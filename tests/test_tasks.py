"""The task layer as a user meets it: `./dev` set-up errors, one-line task errors, `--help` everywhere."""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

INVOKE = str(Path(sys.executable).with_name("invoke"))


def invoke(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [INVOKE, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120
    )


def all_tasks():
    """Every task, from a fresh import of tasks.py: invoke pops a task's help entries once it has parsed them."""
    sys.path.insert(0, str(REPO))
    try:
        import tasks

        collection = importlib.reload(tasks).namespace
    finally:
        sys.path.remove(str(REPO))
    found = dict(collection.tasks)
    for name, sub in collection.collections.items():
        found.update({f"{name}.{task_name}": task for task_name, task in sub.tasks.items()})
    return found


@pytest.mark.parametrize("name", sorted(all_tasks()))
def test_every_task_documents_itself_and_every_flag(name):
    task = all_tasks()[name]
    assert (task.__doc__ or "").strip(), f"task {name} has no docstring (its --help)"
    flags = [p for p in inspect.signature(task.body).parameters if p != "c"]
    # invoke drops a trailing underscore (`from_` is the flag --from) and spells other underscores as dashes.
    undocumented = [f for f in flags if f.rstrip("_").replace("_", "-") not in task.help and f not in task.help]
    assert not undocumented, f"task {name}: flags without help: {undocumented}"


def test_help_runs_for_every_task(capsys):
    """invoke's own program over tasks.py, in this process (a process per task took 15 s); `./dev --help X` runs
    the same program, and test_a_bad_value_is_one_line... runs it as a process."""
    from invoke import Collection, Program

    sys.path.insert(0, str(REPO))
    try:
        import tasks
    finally:
        sys.path.remove(str(REPO))
    for name in all_tasks():
        namespace = Collection.from_module(importlib.reload(tasks))
        Program(namespace=namespace, binary="inv[oke]").run(["invoke", "--help", name], exit=False)
        assert "Usage: inv[oke] [--core-opts] " + name in capsys.readouterr().out, name


def test_a_bad_value_is_one_line_with_a_non_zero_exit(project_root):
    completed = invoke("init", "--region", "mars-1", "--no-input", env={"LOCALSAGE_ROOT": str(project_root)})
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: project.toml: project.region 'mars-1' is invalid")


def test_emulator_tasks_end_to_end(tmp_path):
    env = {"LOCALSAGE_STATE_DIR": str(tmp_path)}
    try:
        up = invoke("emulator.up", env=env)
        assert up.returncode == 0 and "running" in up.stdout
        status = invoke("emulator.status", "--json", env=env)
        assert status.returncode == 0 and '"healthy": true' in status.stdout
    finally:
        down = invoke("emulator.down", env=env)
    assert down.returncode == 0 and "stopped" in down.stdout
    stopped = invoke("emulator.status", env=env)
    assert stopped.returncode == 1 and "stopped" in stopped.stdout


def fake_path(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only the named tools (and what sh needs), to simulate a machine without the others."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("sh", "cat", "cut", "dirname", "sha256sum", "printf", "uname", *tools):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


def run_dev(tmp_path: Path, path: str, **env: str) -> subprocess.CompletedProcess:
    """./dev in a checkout of its own, with no .venv yet (the machine's Python is only looked at then)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir(exist_ok=True)
    shutil.copy2(REPO / "dev", checkout / "dev")
    return subprocess.run(
        ["sh", str(checkout / "dev"), "--list"],
        env={"PATH": path, "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        executable=shutil.which("sh"),
    )


def test_dev_names_a_missing_python(tmp_path):
    completed = run_dev(tmp_path, fake_path(tmp_path, "node", "npm"), PYTHON="python3-missing")
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "dev: error: python3-missing not found: install Python 3.11 or newer (or set PYTHON=/path/to/python3.11)"
    )


def test_dev_refuses_an_old_python(tmp_path):
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\ncase "$1" in -V) echo "Python 3.9.18";; *) exit 1;; esac\n')
    old.chmod(0o755)
    completed = run_dev(tmp_path, fake_path(tmp_path, "node", "npm"), PYTHON=str(old))
    assert completed.returncode == 1
    assert "dev: error: Python 3.9.18 is too old: install Python 3.11 or newer" in completed.stderr


def test_dev_refuses_a_platform_the_lock_has_no_packages_for(tmp_path):
    path = fake_path(tmp_path, "node", "npm")
    uname = Path(path) / "uname"
    uname.unlink()
    uname.write_text('#!/bin/sh\ncase "$1" in -s) echo FreeBSD;; -m) echo amd64;; esac\n')
    uname.chmod(0o755)
    completed = run_dev(tmp_path, path, PYTHON=sys.executable)
    assert completed.returncode == 1
    assert completed.stderr.strip().startswith(
        "dev: error: the lock has packages for Linux x86_64/aarch64 and macOS arm64, not FreeBSD amd64: "
        "add it to [tool.uv] environments in pyproject.toml"
    )


def test_dev_names_a_missing_node(tmp_path):
    completed = run_dev(tmp_path, fake_path(tmp_path), PYTHON=sys.executable)
    assert completed.returncode == 1
    assert completed.stderr.strip().startswith("dev: error: node not found: install Node.js 20 or newer")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("synth", "--context", "foo"), "error: --context 'foo' is not Name=Value"),
        (("deploy", "--aws", "--stacks", ""), "error: --stacks was given but names no stack"),
        (("init", "--emulator-port", "abc", "--no-input"), "error: --emulator-port 'abc' is not a number"),
        (("local-run", "--param", "NoEquals"), "error: --param 'NoEquals' is not Name=Value"),
    ],
)
def test_bad_flags_are_one_line_errors(project_root, args, message):
    completed = invoke(*args, env={"LOCALSAGE_ROOT": str(project_root)})
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [completed.stderr.strip()]
    assert completed.stderr.startswith(message)


def test_dev_keeps_bytecode_in_the_venv_even_where_writing_it_is_turned_off(tmp_path):
    """uv installs no bytecode; without this every task would compile pandas and the SDK from source again."""
    module = REPO / "localsage" / "facts" / "config.py"
    cached = REPO / ".venv" / "pycache" / module.parent.relative_to("/") / f"config.{sys.implementation.cache_tag}.pyc"
    cached.unlink(missing_ok=True)
    # A state folder of its own: no command server there, so the task runs in a fresh interpreter, which compiles.
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LOCALSAGE_STATE_DIR": str(tmp_path / "state")}
    environment.pop("PYTHONPYCACHEPREFIX", None)
    command = ["sh", str(REPO / "dev"), "names"]
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert cached.is_file(), "./dev ran a task without keeping its bytecode in .venv/pycache"


def test_help_after_a_positional_argument_is_help_too():
    """invoke hands `./dev bench --help` to the task as its SUITE: the task answers with its usage."""
    completed = subprocess.run(
        ["sh", str(REPO / "dev"), "bench", "--help"], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("usage: ./dev bench SUITE [--json]; SUITE is one of: runner")
