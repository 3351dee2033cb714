"""The process backend: the step's command with the project's interpreter, its output in the step's log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
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
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
