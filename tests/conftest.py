"""Shared fixtures: a private, real moto emulator for the whole session, stopped by its PID at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Steps run as processes in the tests, also where a Docker engine answers (a privileged CodeBuild): the step
# image is not built or pulled there. The docker backend's own tests choose it explicitly.
os.environ["LOCALSAGE_BACKEND"] = "process"


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory) -> Path:
    """A private `.local` for this test session, so tests never touch a developer's own emulator state."""
    path = tmp_path_factory.mktemp("state")
    os.environ["LOCALSAGE_STATE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def local_target(state_dir):
    """The real emulator, started once, with this process pointed at it (the same path every task takes)."""
    from localsage.adapters import targets
    from localsage.adapters.emulators.selection import for_project

    target = targets.local(REPO, say=lambda message: None)
    yield target
    for_project(REPO, say=lambda message: None).down()


@pytest.fixture
def project_root(tmp_path, monkeypatch) -> Path:
    """An empty project folder with a default project.toml, for config and init tests."""
    from localsage.facts import config

    config.write(config.ProjectConfig(), tmp_path)
    monkeypatch.setenv("LOCALSAGE_ROOT", str(tmp_path))
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path / ".local"))
    return tmp_path


@pytest.fixture(scope="session")
def warm_backend(tmp_path_factory):
    """One warm interpreter for the session's runner tests, stopped by its PID at the end."""
    from localsage.runner.backends.process import tools_folder
    from localsage.runner.backends.warm import WarmProcessBackend
    from localsage.runner.warm import service

    state = tmp_path_factory.mktemp("warm-backend")
    yield WarmProcessBackend(lambda message: None, tools_folder(state), state_dir=state)
    service.stop(state)


@pytest.fixture(params=["fresh", "warm"])
def backend(request, warm_backend, tmp_path):
    """The process backend in each of its modes: fresh interpreters, and forks of the warm one."""
    from localsage.runner.backends.process import ProcessBackend, tools_folder

    if request.param == "warm":
        return warm_backend
    return ProcessBackend(lambda message: None, tools_folder(tmp_path))
