"""The docker backend: the exact `containers.run` options (running them needs an engine, which CI lacks)."""

from __future__ import annotations

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
