"""The process backend: the step's command with the project's interpreter, its output in the step's log."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
from backends_support import spec

from localsage.runner.backends.process import ProcessBackend


def test_the_process_backend_runs_python_with_the_project_interpreter_and_captures_output(tmp_path):
    (tmp_path / "opt_ml").mkdir()
    command = ["python3", "-c", "import sys; print('out'); print(sys.prefix, file=sys.stderr); sys.exit(3)"]
    running = ProcessBackend().start(spec(tmp_path, command))
    assert running.wait() == 3
    log = (tmp_path / "logs" / "output.log").read_text()
    assert "out" in log and Path(sys.prefix).name in log


def test_terminate_stops_the_whole_process_group(tmp_path):
    (tmp_path / "opt_ml").mkdir()
    running = ProcessBackend().start(spec(tmp_path, ["sh", "-c", "sleep 60 & sleep 60"]))
    group = os.getpgid(running.child.pid)
    running.terminate()
    assert running.wait() != 0
    # Members end at once on KILL; the deadline only covers the kernel finishing it on a loaded machine.
    deadline = time.monotonic() + 10
    while members_running(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert members_running(group) == []


def test_terminate_kills_members_that_ignore_term(tmp_path):
    (tmp_path / "opt_ml").mkdir()
    ready = tmp_path / "ready"
    script = f"(trap '' TERM; touch {ready}; exec sleep 60) & wait"
    running = ProcessBackend().start(spec(tmp_path, ["sh", "-c", script]))
    group = os.getpgid(running.child.pid)
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    running.terminate()
    running.wait()
    deadline = time.monotonic() + 10
    while members_running(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert members_running(group) == []


def members_running(group: int) -> list[int]:
    """Members of the process group that have not ended (a zombie has ended; init collects it)."""
    running = []
    for process in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                running.append(process.pid)
    return running


def test_the_job_role_credentials_reach_the_process_and_the_job_environment_goes_over_them(tmp_path):
    (tmp_path / "opt_ml").mkdir()
    show = "import os; print(os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SESSION_TOKEN'], os.environ['REGION_X'])"
    credentials = {"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "token"}
    job = replace(spec(tmp_path, ["python3", "-c", show], {"REGION_X": "x"}), credentials=credentials)
    assert ProcessBackend().start(job).wait() == 0
    assert "ASIAROLE token x" in (tmp_path / "logs" / "output.log").read_text()
    overriding = replace(job, environment={"REGION_X": "y", "AWS_SESSION_TOKEN": "mine"})
    assert ProcessBackend().start(overriding).wait() == 0
    assert "ASIAROLE mine y" in (tmp_path / "logs" / "output.log").read_text()
