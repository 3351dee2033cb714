"""Where a step's container runs: one small interface, two backends (`process`, `docker`).

A step handler describes the container SageMaker would start (image, command, environment, and the
host folder that is `/opt/ml` inside it); a backend runs that description and returns its exit code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from localsage.errors import UserError

BACKENDS = ("auto", "process", "docker")


@dataclass(frozen=True)
class ContainerSpec:
    """One SageMaker job's container, as the job's API request describes it."""

    name: str
    image: str
    command: list[str]
    environment: dict[str, str]
    opt_ml: Path  # the host folder mounted as /opt/ml
    logs: Path  # folder for output.log
    code_dirs: list[Path] = field(default_factory=list)  # downloaded code, scanned for literal /opt/ml paths

    @property
    def log(self) -> Path:
        """stdout and stderr together, as CloudWatch shows a job's stream (SDK drivers merge them anyway)."""
        return self.logs / "output.log"


class RunningContainer(Protocol):
    def wait(self) -> int: ...

    def terminate(self) -> None: ...


class Backend(Protocol):
    name: str

    def start(self, spec: ContainerSpec) -> RunningContainer: ...

    def describe(self) -> str: ...


def choose(name: str | None, say=print) -> Backend:
    """The backend for `--backend` (default $LOCALSAGE_BACKEND, else auto: docker only when an engine answers).

    CI sets LOCALSAGE_BACKEND=process where a Docker engine exists but the step image is not meant to be used.
    """
    from localsage.runner.backends.docker import DockerBackend, engine_answers
    from localsage.runner.backends.process import ProcessBackend

    name = name or os.environ.get("LOCALSAGE_BACKEND") or "auto"
    if name not in BACKENDS:
        raise UserError(f"--backend {name} is unknown: use one of {', '.join(BACKENDS)}")
    if name == "docker" or (name == "auto" and engine_answers()):
        if not engine_answers():
            raise UserError("--backend docker: no Docker engine answers; use --backend process (the default here)")
        return DockerBackend()
    return ProcessBackend(say=say)
