"""`./dev steps`: every step type of SageMaker Pipelines and what the local runner does with it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from localsage.runner.steps.registry import NOT_RUN, step_types
from localsage.views.console import print_json
from localsage.views.steps import print_step_support

STUB_REQUIRED = "stub required"


@dataclass(frozen=True)
class StepSupport:
    type: str
    support: str  # runs, recorded only, or stub required (`local-run --stub STEP=FILE`)
    locally: str


def step_support() -> list[StepSupport]:
    """The step types that run (or are recorded), then those that need a stub, each with how or why."""
    known = [StepSupport(name, step_type.support, step_type.locally) for name, step_type in step_types().items()]
    return known + [StepSupport(name, STUB_REQUIRED, reason) for name, reason in NOT_RUN.items()]


def steps_task(as_json: bool = False) -> None:
    support = step_support()
    if as_json:
        print_json([asdict(row) for row in support])
    else:
        print_step_support(support)
