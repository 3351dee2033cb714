"""Every step type the local runner runs, by its type name in the definition. Adding a type = one module
with its class, listed here, and its tests."""

from __future__ import annotations

from functools import cache

from localsage.runner.steps.base import StepType
from localsage.runner.steps.condition import Condition
from localsage.runner.steps.container_job import ContainerJob
from localsage.runner.steps.create_model import CreateModel, LegacyCreateModel
from localsage.runner.steps.fail import Fail
from localsage.runner.steps.processing import Processing
from localsage.runner.steps.register_model import RegisterModel
from localsage.runner.steps.training import Training

STEP_TYPES: tuple[type[StepType], ...] = (
    Processing,
    Training,
    Condition,
    Fail,
    RegisterModel,
    CreateModel,
    LegacyCreateModel,
)


@cache
def step_types() -> dict[str, StepType]:
    """One instance of each step type, by type name."""
    return {step_type.type_name: step_type() for step_type in STEP_TYPES}


@cache
def job_step_types() -> dict[str, ContainerJob]:
    """The step types that run one SageMaker job, by the API's noun for it (TrainingJob, ProcessingJob): what a
    standalone Create*Job request runs as."""
    return {step_type.job_kind: step_type for step_type in step_types().values() if isinstance(step_type, ContainerJob)}
