"""The command server: `./dev TASK` forked from an interpreter that imported the toolkit, behaving as the fresh
`python -m invoke` it replaces (output, exit codes, terminal, signals), and replaced by a fresh process whenever
it cannot be that (no server, the toolkit's code edited since its imports)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from emulators_support import private_emulator
from invoke import Collection

from localsage.commands import command_server
from localsage.runner.backends.selection import warm_possible
from localsage.runner.warm import commands, launcher, protocol, service

REPO = Path(__file__).resolve().parents[3]
PROBE = """
import json, os, sys, time
print(json.dumps({
    "forked": "localsage.runner.warm.protocol" in sys.modules,
    "argv": sys.argv[1:], "cwd": os.getcwd(), "path0": sys.path[0],
    "own_variable": os.environ.get("LOCALSAGE_WARM_COMMANDS"),
}), flush=True)
if sys.argv[1:] == ["wait"]:
    time.sleep(60)
if sys.argv[1:2] == ["stop-companions"]:  # what a task does when it restarts an unhealthy emulator
    from pathlib import Path
    from localsage.adapters import companions
    companions.stop_all(Path(sys.argv[2]))
    print("still running", flush=True)
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
"""


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A command server for a private emulator's state folder, ready; its state folder."""
    if not warm_possible():
        pytest.skip("no forking here (macOS, or LOCALSAGE_ISOLATION=fresh)")
    emulator = private_emulator(tmp_path, monkeypatch)
    emulator.up()
    state = tmp_path / ".local"
    as_dev_sets_it(monkeypatch)  # as ./dev local-run starts it
    command_server.start_beside(state, emulator.process())
    deadline = time.monotonic() + 60
    while not commands.address_file(state).is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert commands.address_file(state).is_file(), (state / "warm-commands" / "server.log").read_text()
    yield Served(state, emulator)
    emulator.down()


@dataclass
class Served:
    state: Path
    emulator: object


def as_dev_sets_it(monkeypatch) -> None:
    """The import-time variables ./dev gives every task (its bytecode folder, bytecode on)."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(REPO / ".venv" / "pycache"))


def launch(state: Path, cwd: Path, *arguments: str, **environment: str) -> subprocess.Popen:
    """What ./dev does for a warm task: the launcher, with the server's key in its one variable."""
    env = {**os.environ, **environment, protocol.COMMANDS_VARIABLE: commands.address_file(state).read_text()}
    command = [sys.executable, "-I", "-S", launcher.__file__, "-m", *arguments]
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    (folder / "probe.py").write_text(PROBE)
    return folder


def test_a_module_call_is_forked_and_sees_what_python_dash_m_would(server, tmp_path):
    folder = probe_folder(tmp_path)
    done = launch(server.state, folder, "probe", "--flag", "value", PROBE_EXIT="3")
    stdout, _ = done.communicate(timeout=60)
    seen = json.loads(stdout)
    assert done.returncode == 3
    assert seen == {
        "forked": True,
        "argv": ["--flag", "value"],
        "cwd": str(folder),
        "path0": str(folder),
        "own_variable": None,
    }


def test_ctrl_c_reaches_the_task_and_the_caller_sees_it_end_by_it(server, tmp_path):
    running = launch(server.state, probe_folder(tmp_path), "probe", "wait")
    assert '"forked": true' in running.stdout.readline()
    running.send_signal(signal.SIGINT)
    assert running.wait(30) == -signal.SIGINT
    # The program itself was interrupted (its traceback is in probe.py), not only the launcher.
    assert re.search(r'File ".*probe\.py", line \d+.*\n.*time\.sleep\(60\)\nKeyboardInterrupt', running.stderr.read())


def test_stopping_the_server_never_stops_a_task_forked_from_it(server, tmp_path):
    """A task that restarts the emulator stops its companions, this server among them: the task goes on, its
    caller gets its exit code, and the server ends once the task has (it retires: no new task goes to it)."""
    running = launch(server.state, probe_folder(tmp_path), "probe", "stop-companions", str(server.state))
    stdout, stderr = running.communicate(timeout=60)
    assert (running.returncode, stdout.splitlines()[-1]) == (0, "still running"), stderr
    assert not commands.address_file(server.state).exists()
    log = (server.state / "warm-commands" / "server.log").read_text()
    assert "asked to stop: retiring" in log


def dev(state: Path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCALSAGE_STATE_DIR": str(state), **environment}
    return subprocess.run(["sh", str(REPO / "dev"), *arguments], env=env, capture_output=True, text=True, timeout=120)


def test_a_dev_task_gives_the_output_and_exit_code_of_a_fresh_one(server):
    log = server.state / "warm-commands" / "server.log"
    for arguments in (["names"], ["executions", "--id", "no-such-execution"]):
        warm = dev(server.state, *arguments)
        fresh = dev(server.state, *arguments, LOCALSAGE_ISOLATION="fresh")
        assert (warm.returncode, warm.stdout, warm.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
        assert f"-m invoke --search-root {REPO} {' '.join(arguments)}: forking" in log.read_text()
    assert warm.returncode != 0


def test_the_terminal_and_colour_settings_are_the_callers(server):
    """The consoles were made in the server, whose output is a log file: a task detects its own again."""
    escape = re.compile(r"\x1b\[")
    assert escape.search(dev(server.state, "executions", "--id", "no-such-execution", FORCE_COLOR="1").stderr)
    assert not escape.search(dev(server.state, "executions", "--id", "no-such-execution").stderr)
    log = (server.state / "warm-commands" / "server.log").read_text()
    assert log.count("executions --id no-such-execution: forking") == 2


def test_an_edited_toolkit_module_makes_the_task_fresh_and_retires_the_server(tmp_path, monkeypatch):
    """The server's imports are only good while their sources are unchanged (an editable install)."""
    emulator = private_emulator(tmp_path, monkeypatch)
    emulator.up()
    try:
        library = tmp_path / "library"
        library.mkdir()
        (library / "toolkit_part.py").write_text("VALUE = 1\n")
        monkeypatch.setenv("PYTHONPATH", str(library))
        state = tmp_path / ".local"
        commands.start(state, preload=["toolkit_part"], prepare="", after_fork="", lifetime=emulator.process())
        deadline = time.monotonic() + 60
        while not commands.address_file(state).is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        folder = probe_folder(tmp_path)
        assert '"forked": true' in launch(state, folder, "probe").communicate(timeout=60)[0]
        pid = json.loads((state / "companions" / f"{commands.COMPANION}.json").read_text())["pid"]
        (library / "toolkit_part.py").write_text("VALUE = 2\n")
        os.utime(library / "toolkit_part.py", ns=(time.time_ns(), time.time_ns() + 10**9))
        assert '"forked": false' in launch(state, folder, "probe").communicate(timeout=60)[0]
        assert not commands.address_file(state).exists(), "./dev would keep asking the retired server"
        psutil.Process(pid).wait(30)
        assert (
            "toolkit_part.py changed since the command server imported it"
            in (state / "warm-commands" / "server.log").read_text()
        )
    finally:
        emulator.down()


def test_emulator_down_stops_it_by_its_pid(server):
    record = service.read_record(commands.folder(server.state))
    server.emulator.down()
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(record.pid).wait(30)
    assert not commands.running(server.state)
    assert "asked to stop: retiring" in (server.state / "warm-commands" / "server.log").read_text()


def test_dev_sends_only_existing_tasks_to_it():
    """./dev's list of warm tasks names tasks of tasks.py; what the server imports for them exists."""
    import importlib

    text = (REPO / "dev").read_text()
    listed = re.search(r"\n    (local-run \|[^)]*)\)", text).group(1).replace(" ", "").split("|")
    sys.path.insert(0, str(REPO))
    try:
        import tasks
    finally:
        sys.path.remove(str(REPO))
    assert "local-run" in listed and set(listed) <= set(Collection.from_module(tasks).task_names)
    for module in command_server.TASK_MODULES:
        importlib.import_module(module)
