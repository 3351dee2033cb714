"""Which backend runs the steps: --backend, $LOCALSAGE_BACKEND, else docker only when an engine answers."""

from __future__ import annotations

import pytest

from localsage.errors import UserError
from localsage.runner.backends import docker
from localsage.runner.backends.selection import choose


@pytest.fixture
def no_engine(monkeypatch):
    """An engine address nothing listens on (the probe's answer is cached per process)."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("LOCALSAGE_BACKEND", raising=False)
    docker.engine_answers.cache_clear()
    yield
    docker.engine_answers.cache_clear()


def test_an_unknown_backend_is_refused():
    with pytest.raises(UserError, match="--backend podman is unknown: use one of auto, process, docker"):
        choose("podman")


def test_docker_without_an_engine_says_what_to_do_and_auto_picks_processes(no_engine):
    with pytest.raises(UserError, match="no Docker engine answers; use --backend process"):
        choose("docker")
    assert choose("auto").name == "process"
    assert choose(None).name == "process"


def test_the_environment_default_applies(no_engine, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_BACKEND", "process")
    assert choose(None).name == "process"


def test_the_process_backend_forks_from_a_warm_interpreter_unless_told_fresh(no_engine, monkeypatch, tmp_path):
    monkeypatch.delenv("LOCALSAGE_ISOLATION", raising=False)
    warm = choose("process", state_dir=tmp_path)
    assert warm.name == "process (warm)"
    assert "warm interpreters" in warm.describe()
    monkeypatch.setenv("LOCALSAGE_ISOLATION", "fresh")
    fresh = choose("process", state_dir=tmp_path)
    assert fresh.name == "process"
    assert "fresh interpreters" in fresh.describe()
    assert (tmp_path / "runner" / "bin" / "pip3").is_file(), "the training driver looks for pip"
