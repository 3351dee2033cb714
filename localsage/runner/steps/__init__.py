"""Step handlers: one module per SageMaker step type, each a small class behind `StepHandler`.

A handler gets the step's resolved arguments (every expression already replaced by its value) and
returns the step's properties, shaped like the Describe* response SageMaker gives later steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from localsage.errors import UserError
from localsage.runner.backends import Backend, ContainerSpec, RunningContainer
from localsage.runner.definition import Step

STDERR_TAIL_LINES = 20


def job_name(execution_id: str, step_name: str) -> str:
    """`pipelines-<execution id>-<step>`, within SageMaker's 63-character job name limit."""
    cleaned = "".join(char if char.isalnum() else "-" for char in step_name)
    return f"pipelines-{execution_id}-{cleaned}"[:63].rstrip("-")


class StepFailed(Exception):
    """The step ran and failed; `message` says why, `tail` holds the last lines of its log."""

    def __init__(self, message: str, tail: list[str] | None = None):
        super().__init__(message)
        self.tail = tail or []


class ExecutionStopped(Exception):
    """The user interrupted the execution."""


@dataclass
class StepContext:
    """What a handler may use: the execution's identity, its folder, AWS clients and the backend."""

    step: Step
    execution_id: str
    pipeline_name: str
    region: str
    account: str
    work_dir: Path  # this step's folder: opt_ml/ and logs/ live here
    backend: Backend
    client: Callable[[str], object]
    say: Callable[[str], None] = print
    running: dict[str, RunningContainer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def opt_ml(self) -> Path:
        return self.work_dir / "opt_ml"

    @property
    def logs(self) -> Path:
        return self.work_dir / "logs"

    def job_name(self) -> str:
        return job_name(self.execution_id, self.step.name)

    def arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/{name.lower()}"

    def container_path(self, path: str, field_name: str) -> Path:
        """The host folder for a container path, which must lie under /opt/ml (as SageMaker requires)."""
        if not (path == "/opt/ml" or path.startswith("/opt/ml/")):
            raise UserError(f"{self.step.where}{field_name} {path!r} must be under /opt/ml")
        return self.opt_ml / path.removeprefix("/opt/ml").lstrip("/")

    def run_container(self, spec: ContainerSpec) -> None:
        """Run the job's container to the end; StepFailed with the last stderr lines when it exits non-zero."""
        if self.stopping.is_set():
            raise ExecutionStopped()
        container = self.backend.start(spec)
        with self.lock:
            self.running[self.step.name] = container
        if self.stopping.is_set():  # Ctrl-C came while it started: the stop pass may have missed it
            container.terminate()
        try:
            code = container.wait()
        finally:
            with self.lock:
                self.running.pop(self.step.name, None)
        if self.stopping.is_set():
            raise ExecutionStopped()
        if code != 0:
            lines = spec.log.read_text(encoding="utf-8", errors="replace").splitlines()
            failure = self.opt_ml / "output" / "failure"
            reason = failure.read_text(encoding="utf-8").strip() if failure.is_file() else ""
            raise StepFailed(
                f"{self.step.where}the container exited with code {code}" + (f": {reason}" if reason else ""),
                tail=lines[-STDERR_TAIL_LINES:],
            )


@dataclass
class StepResult:
    properties: dict
    outcome: bool | None = None  # a Condition step's result


class StepHandler(Protocol):
    step_type: str
    cacheable: bool

    def check(self, step: Step) -> None:
        """Refuse, before anything runs, arguments this handler cannot honour (one-line UserError)."""

    def run(self, arguments: dict, context: StepContext) -> StepResult: ...

    def input_uris(self, arguments: dict) -> list[str]:
        """The S3 URIs the step reads (their content goes into the cache key)."""

    def output_uris(self, properties: dict) -> list[str]:
        """The S3 URIs a cached result needs to still exist."""


class ApiStepHandler:
    """A step without a container (Condition, Fail, registry calls): nothing to check ahead, no S3 data."""

    cacheable = False

    def check(self, step: Step) -> None:
        """The service (or the definition validator) checks these arguments itself."""

    def input_uris(self, arguments: dict) -> list[str]:
        return []

    def output_uris(self, properties: dict) -> list[str]:
        return []


def handlers() -> dict[str, StepHandler]:
    """Every supported step type and its handler."""
    from localsage.runner.steps.condition import ConditionHandler, FailHandler
    from localsage.runner.steps.model import CreateModelHandler, RegisterModelHandler
    from localsage.runner.steps.processing import ProcessingHandler
    from localsage.runner.steps.training import TrainingHandler

    created = [
        ProcessingHandler(),
        TrainingHandler(),
        ConditionHandler(),
        FailHandler(),
        RegisterModelHandler(),
        CreateModelHandler("Model"),
        CreateModelHandler("CreateModel"),
    ]
    return {handler.step_type: handler for handler in created}
