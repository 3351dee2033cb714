"""Where a step's container runs: the interface every backend implements (`process`, `docker`; `selection`).

A step type describes the container SageMaker would start (image, command, environment, and the
host folder that is `/opt/ml` inside it); a backend runs that description and returns its exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


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
    # The job role's AWS_* credential variables (empty: the emulator's own); the job's Environment goes over them.
    credentials: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()  # what an inference container listens on (SAGEMAKER_BIND_TO_PORT)

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
