"""Every way a run can end, ends cleanly: SIGTERM, SIGHUP, Ctrl-C and a reader that goes away stop (or finish)
the run with no step process left behind and no execution left Executing; a runner killed outright is shown
as Failed, with the reason, the next time anyone looks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from definitions_support import hand_written, processing_step, upload, write_definition
from projects import copy_project

from localsage.commands import local_run as commands

INVOKE = str(Path(sys.executable).with_name("invoke"))
SLOW = (
    b"import os, pathlib, sys, time\n"
    b"pathlib.Path(os.environ['PID_FILE']).write_text(str(os.getpid()))\n"
    b"time.sleep(float(os.environ.get('SECONDS_TO_SLEEP', '60')))\n"
)


@pytest.fixture(scope="module")
def project(local_target, tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("endings"), "endings")


def slow_definition(target, folder: Path, seconds: float = 60) -> tuple[str, Path]:
    code = upload(target, "tests/endings/code/slow.py", SLOW)
    definition = hand_written([processing_step("Slow", code, "slow.py")])
    pid_file = folder / "step.pid"
    definition["Steps"][0]["Arguments"]["Environment"] = {"PID_FILE": str(pid_file), "SECONDS_TO_SLEEP": str(seconds)}
    return write_definition(folder, definition), pid_file


def start(project: Path, definition: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [INVOKE, "local-run", "--definition", definition, "--json"],
        cwd=REPO,
        env={**os.environ, "LOCALSAGE_ROOT": str(project)},
        stdout=options.pop("stdout", subprocess.PIPE),
        stderr=options.pop("stderr", subprocess.PIPE),
        text=True,
        start_new_session=True,
        **options,
    )


def wait_for(pid_file: Path, child: subprocess.Popen) -> int:
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert pid_file.exists(), child.communicate()
    time.sleep(0.3)
    return int(pid_file.read_text())


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_stops_the_steps_and_records_the_execution_stopped(local_target, project, tmp_path, number):
    definition, pid_file = slow_definition(local_target, tmp_path)
    child = start(project, definition)
    step = wait_for(pid_file, child)
    child.send_signal(number)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert gone(step), "the step's process group was stopped"
    summary = json.loads(stdout)
    stored = commands.executions(summary["execution_id"], root=project)[0]
    assert stored.status == "Stopped" and stored.steps["Slow"].status == "Stopped"
    assert "SIGTERM or SIGHUP" in stored.failure


def test_a_reader_that_goes_away_mid_run_ends_the_display_not_the_run(local_target, project, tmp_path):
    definition, pid_file = slow_definition(local_target, tmp_path, seconds=2)
    reading, writing = os.pipe()
    child = start(project, definition, stdout=writing, stderr=writing)
    os.close(writing)
    step = wait_for(pid_file, child)
    os.close(reading)  # as `| head` does once it has its lines
    assert child.wait(timeout=60) == 1, "the summary could not be printed"
    assert gone(step)
    latest = max(commands.executions(root=project), key=lambda record: record.started)
    assert latest.runner_pid == child.pid
    assert latest.status == "Succeeded" and latest.steps["Slow"].status == "Succeeded"


def test_a_reader_gone_before_the_run_starts_ends_it_before_anything_runs(local_target, project, tmp_path):
    definition, pid_file = slow_definition(local_target, tmp_path, seconds=2)
    reading, writing = os.pipe()
    os.close(reading)
    child = start(project, definition, stdout=writing, stderr=writing)
    os.close(writing)
    assert child.wait(timeout=60) == 1
    assert not pid_file.exists()
    assert not [record for record in commands.executions(root=project) if record.runner_pid == child.pid]


def test_a_runner_killed_outright_leaves_a_failed_record_saying_so(local_target, project, tmp_path):
    definition, pid_file = slow_definition(local_target, tmp_path, seconds=5)
    child = start(project, definition)
    step = wait_for(pid_file, child)
    os.killpg(child.pid, signal.SIGKILL)  # the task's whole group: invoke and the runner in it
    child.wait(timeout=10)
    try:
        executing = [r for r in commands.executions(root=project) if r.runner_pid == child.pid]
        (record,) = executing
        assert record.status == "Failed"
        assert f"the runner (PID {child.pid}) ended before the execution did" in record.failure
        assert record.steps["Slow"].status == "Failed"
        assert commands.executions(record.execution_id, root=project)[0].status == "Failed", "the correction is saved"
    finally:
        if not gone(step):
            os.kill(step, signal.SIGKILL)
