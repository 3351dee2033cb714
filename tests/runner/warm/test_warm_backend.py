"""The process backend in warm mode, with the real warm interpreter: each step `python` is a forked child that
behaves as a fresh interpreter would (arguments, folder, environment, exit codes, signals, output), shares no
module state with the steps before it, and falls back to a fresh interpreter when it must."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pytest

from localsage.runner.backends.base import ContainerSpec
from localsage.runner.backends.process import tools_folder
from localsage.runner.backends.warm import WarmProcessBackend
from localsage.runner.warm import service

PROBE = """
import json, os, random, sys
print(json.dumps({
    "forked": "localsage.runner.warm.protocol" in sys.modules,
    "argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0], "executable": sys.executable,
    "variable": os.environ.get("SM_HP_EPOCHS"), "random": random.random(),
    "marker": getattr(json, "MARKER", None),
}))
json.MARKER = "set by an earlier step"
sys.exit(int(os.environ.get("SM_HP_EXIT", "0")))
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    state = tmp_path_factory.mktemp("warm-state")
    said: list[str] = []
    backend = WarmProcessBackend(said.append, tools_folder(state), state_dir=state)
    yield backend, said
    service.stop(state)


def container(folder: Path, script: str, *arguments: str, environment: dict | None = None, name: str = "probe"):
    code = folder / "opt_ml" / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / f"{name}.py").write_text(script)
    return ContainerSpec(
        name=f"pipelines-test-{name}",
        image="steps:latest",
        command=["python3", f"/opt/ml/code/{name}.py", *arguments],
        environment=environment or {},
        opt_ml=folder / "opt_ml",
        logs=folder / "logs",
        code_dirs=[code],
    )


def run(backend, spec: ContainerSpec) -> tuple[int, str]:
    code = backend.start(spec).wait()
    return code, spec.log.read_text()


def probe(backend, folder: Path, **environment) -> tuple[int, dict]:
    import json

    code, output = run(backend, container(folder, PROBE, "--flag", "value", environment=environment))
    return code, json.loads(output.splitlines()[-1])


def test_a_step_is_forked_and_sees_what_a_fresh_process_sees(warm, tmp_path):
    backend, _ = warm
    code, seen = probe(backend, tmp_path, SM_HP_EPOCHS="3")
    assert code == 0
    assert seen["forked"] is True
    assert seen["argv"] == ["/opt/ml/code/probe.py", "--flag", "value"]
    assert seen["path0"] == "/opt/ml/code"
    assert seen["cwd"] == str(tmp_path / "opt_ml"), "the folder a fresh process starts in"
    assert seen["variable"] == "3"
    assert seen["executable"].endswith("/warm/bin/python3"), "the step's children go through the launcher too"


def test_exit_codes_and_module_state_and_random_seeds_are_the_processes_own(warm, tmp_path):
    backend, _ = warm
    first_code, first = probe(backend, tmp_path / "one", SM_HP_EXIT="3")
    second_code, second = probe(backend, tmp_path / "two")
    assert (first_code, second_code) == (3, 0)
    assert first["forked"] and second["forked"]
    assert second["marker"] is None, "a module global set by one step leaked into the next"
    assert first["random"] != second["random"], "each child must seed its generators anew"


def test_a_step_that_sets_a_thread_count_runs_fresh_and_says_so_once(warm, tmp_path):
    backend, said = warm
    _, seen = probe(backend, tmp_path / "one", OMP_NUM_THREADS="1")
    _, again = probe(backend, tmp_path / "two", OMP_NUM_THREADS="1")
    assert seen["forked"] is False and again["forked"] is False
    notes = [line for line in said if "OMP_NUM_THREADS=1" in line]
    assert notes == ["pipelines-test-probe: fresh interpreters (OMP_NUM_THREADS=1 differs from the warm interpreter's)"]


def test_a_variable_the_job_declares_makes_its_step_fresh(warm, tmp_path):
    backend, said = warm
    _, seen = probe(backend, tmp_path, FEATURE_SWITCH="on")
    assert seen["forked"] is False
    assert "pipelines-test-probe: fresh interpreters (the job sets FEATURE_SWITCH" in said[-1]


def test_a_script_that_sets_a_thread_count_for_its_own_child_gets_a_fresh_child(warm, tmp_path):
    backend, _ = warm
    parent = (
        "import os, subprocess, sys\n"
        "child = os.path.join(os.path.dirname(__file__), 'child.py')\n"
        "open(child, 'w').write('import sys; print(\"localsage.runner.warm.protocol\" in sys.modules)')\n"
        "print('parent', 'localsage.runner.warm.protocol' in sys.modules, flush=True)\n"
        "subprocess.run([sys.executable, child], env={**os.environ, 'OMP_NUM_THREADS': '2'}, check=True)\n"
        "subprocess.run([sys.executable, child], check=True)\n"
    )
    code, output = run(backend, container(tmp_path, parent, name="parent"))
    assert code == 0, output
    assert output.splitlines() == ["parent True", "False", "True"]


def test_a_failing_script_prints_its_own_traceback_and_exits_1(warm, tmp_path):
    backend, _ = warm
    code, output = run(backend, container(tmp_path, "def fail():\n    raise ValueError('bad input')\nfail()\n"))
    assert code == 1
    lines = output.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert '  File "/opt/ml/code/probe.py", line 3, in <module>' in lines
    assert lines[-1] == "ValueError: bad input"
    assert not any("runpy" in line or "warm" in line for line in lines), "the server's own frames are not shown"


def test_files_left_open_by_the_script_are_flushed(warm, tmp_path):
    backend, _ = warm
    script = "import sys\nhandle = open('/opt/ml/out.txt', 'w')\nhandle.write('x' * 100)\n"
    code, _ = run(backend, container(tmp_path, script))
    assert code == 0
    assert (tmp_path / "opt_ml" / "out.txt").read_text() == "x" * 100


def test_a_module_beside_the_script_wins_over_the_installed_one(warm, tmp_path):
    backend, _ = warm
    spec = container(tmp_path, "import json\nprint(json.WHO)\n")
    (spec.code_dirs[0] / "json.py").write_text("WHO = 'the step folder'\n")
    assert run(backend, spec) == (0, "the step folder\n")


def test_stopping_a_step_stops_its_forked_program(warm, tmp_path):
    backend, _ = warm
    script = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    spec = container(tmp_path, script)
    running = backend.start(spec)
    deadline = time.monotonic() + 30
    while not spec.log.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    program = psutil.Process(int(spec.log.read_text().split()[0]))
    running.terminate()
    assert running.wait() == -signal.SIGTERM
    program.wait(10)
    assert not program.is_running()


def test_other_ways_to_call_python_run_fresh(warm, tmp_path):
    backend, _ = warm
    spec = ContainerSpec(
        name="pipelines-test-inline",
        image="steps:latest",
        command=["python3", "-c", "import sys; print('localsage.runner.warm.protocol' in sys.modules)"],
        environment={},
        opt_ml=tmp_path / "opt_ml",
        logs=tmp_path / "logs",
    )
    spec.opt_ml.mkdir()
    assert run(backend, spec) == (0, "False\n")


def test_what_a_step_imported_beyond_its_source_is_imported_by_the_server_for_the_next(warm, tmp_path):
    """A model's pickle names classes its script never imports (a GradientBoosting model's module): the server
    learns them from the child that imported them and has them for the next step."""
    backend, _ = warm
    script = "import importlib, sys\nprint('fractions' in sys.modules)\nimportlib.import_module('fractions')\n"
    assert run(backend, container(tmp_path / "first", script)) == (0, "False\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if run(backend, container(tmp_path / f"next-{time.monotonic()}", script)) == (0, "True\n"):
            return
        time.sleep(0.2)
    pytest.fail("the server never imported what the first step imported")
