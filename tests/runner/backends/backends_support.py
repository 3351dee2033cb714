"""A container description for backend tests."""

from __future__ import annotations

from pathlib import Path

from localsage.runner.backends.base import ContainerSpec


def spec(tmp_path: Path, command: list[str], environment: dict | None = None) -> ContainerSpec:
    return ContainerSpec(
        name="pipelines-abc-Train",
        image="000000000000.dkr.ecr.us-east-1.amazonaws.com/steps:latest",
        command=command,
        environment=environment or {},
        opt_ml=tmp_path / "opt_ml",
        logs=tmp_path / "logs",
    )
