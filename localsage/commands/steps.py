"""`./dev steps`: every step type of SageMaker Pipelines and what the local runner does with it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from localsage.runner.steps.registry import NOT_RUN, step_types
from localsage.views.console import print_json
from localsage.views.steps import print_step_support


@dataclass(frozen=True)
class StepSupport:
    type: str
    runs: bool
    locally: str


def step_support() -> list[StepSupport]:
    """The step types that run, then those that do not, each with how it runs or why not."""
    running = [StepSupport(name, True, step_type.locally) for name, step_type in step_types().items()]
    return running + [StepSupport(name, False, reason) for name, reason in NOT_RUN.items()]


def steps_task(as_json: bool = False) -> None:
    support = step_support()
    if as_json:
        print_json([asdict(row) for row in support])
    else:
        print_step_support(support)
