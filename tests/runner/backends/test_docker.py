"""The docker backend: the exact `containers.run` options (running them needs an engine, which CI lacks)."""

from __future__ import annotations

from dataclasses import replace

from backends_support import spec

from localsage.runner.backends.docker import container_options


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


def test_the_job_role_credentials_go_into_the_container_under_its_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "emulator-key")
    job = replace(spec(tmp_path, ["python3"], {"A": "1"}), credentials={"AWS_ACCESS_KEY_ID": "ASIAROLE"})
    assert container_options(job)["environment"]["AWS_ACCESS_KEY_ID"] == "ASIAROLE"
    mine = replace(job, environment={"AWS_ACCESS_KEY_ID": "set-by-the-job"})
    assert container_options(mine)["environment"]["AWS_ACCESS_KEY_ID"] == "set-by-the-job"
