"""Backends: the process backend's container emulation and the docker backend's container options."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsage.errors import UserError
from localsage.runner import backends
from localsage.runner.backends import ContainerSpec
from localsage.runner.backends.docker import container_options
from localsage.runner.backends.process import ProcessBackend


def spec(tmp_path: Path, command: list[str], environment: dict | None = None) -> ContainerSpec:
    return ContainerSpec(
        name="pipelines-abc-Train",
        image="000000000000.dkr.ecr.us-east-1.amazonaws.com/steps:latest",
        command=command,
        environment=environment or {},
        opt_ml=tmp_path / "opt_ml",
        logs=tmp_path / "logs",
    )


def test_docker_options_follow_the_sagemaker_container_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/somewhere/empty")
    options = container_options(spec(tmp_path, ["python3", "/opt/ml/code/train.py", "--epochs", "3"], {"A": "1"}))
    assert options["image"].endswith("/steps:latest")
    assert options["entrypoint"] == ["python3", "/opt/ml/code/train.py", "--epochs", "3"]
    assert options["volumes"] == {str(tmp_path / "opt_ml"): {"bind": "/opt/ml", "mode": "rw"}}
    assert options["environment"]["A"] == "1"
    assert options["environment"]["AWS_ENDPOINT_URL"] == "http://localhost:4566"
    assert "AWS_CONFIG_FILE" not in options["environment"]  # a host path means nothing inside the container
    assert options["network_mode"] == "host"


def test_the_process_backend_runs_python_with_the_project_interpreter_and_captures_output(tmp_path):
    (tmp_path / "opt_ml").mkdir()
    command = ["python3", "-c", "import sys; print('out'); print(sys.prefix, file=sys.stderr); sys.exit(3)"]
    running = ProcessBackend().start(spec(tmp_path, command))
    assert running.wait() == 3
    log = (tmp_path / "logs" / "output.log").read_text()
    assert "out" in log and Path(__import__("sys").prefix).name in log


def test_an_unknown_backend_is_refused():
    with pytest.raises(UserError, match="--backend podman is unknown: use one of auto, process, docker"):
        backends.choose("podman")


def test_docker_backend_without_an_engine_says_what_to_do(monkeypatch):
    from localsage.runner.backends import docker

    monkeypatch.setattr(docker, "engine_answers", lambda: False)
    with pytest.raises(UserError, match="no Docker engine answers; use --backend process"):
        backends.choose("docker")
    assert backends.choose("auto").name == "process"
