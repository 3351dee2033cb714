"""A step context on the session's emulator with a backend of the test's own: the "container" is a Python
function that gets the job's ContainerSpec and plays the script (writes outputs, prints, exits)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from localsage.runner.backends.base import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepContext


class Played:
    def __init__(self, code: int):
        self.code = code

    def wait(self) -> int:
        return self.code

    def terminate(self) -> None:
        pass


class PlayedBackend:
    """Runs `container(spec) -> exit code` in place of a process; keeps every spec it was given."""

    name = "played"

    def __init__(self, container: Callable[[ContainerSpec], int] = lambda spec: 0):
        self.container = container
        self.specs: list[ContainerSpec] = []

    def describe(self) -> str:
        return "played by the test"

    def start(self, spec: ContainerSpec) -> Played:
        self.specs.append(spec)
        spec.logs.mkdir(parents=True, exist_ok=True)
        return Played(self.container(spec))


def context(target, tmp_path: Path, name: str, step_type: str, arguments: dict, backend=None) -> StepContext:
    return StepContext(
        step=Step(name=name, type=step_type, arguments=arguments, path="Steps[0]"),
        execution_id=secrets.token_hex(6),
        pipeline_name="step-tests",
        target=target,
        work_dir=tmp_path / name,
        backend=backend or PlayedBackend(),
        say=lambda message: None,
    )
