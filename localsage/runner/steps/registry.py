"""Every step type the local runner runs, by its type name in the definition. Adding a type = one module
with its class, listed here, and its tests."""

from __future__ import annotations

from functools import cache

from localsage.runner.steps.base import StepType
from localsage.runner.steps.callback import Callback
from localsage.runner.steps.cleanup import Cleanup
from localsage.runner.steps.condition import Condition
from localsage.runner.steps.container_job import ContainerJob
from localsage.runner.steps.create_model import CreateModel, LegacyCreateModel
from localsage.runner.steps.endpoint import Endpoint, EndpointConfig
from localsage.runner.steps.fail import Fail
from localsage.runner.steps.for_each import ForEach
from localsage.runner.steps.inference_component import InferenceComponent
from localsage.runner.steps.lambda_function import LambdaFunction
from localsage.runner.steps.lineage import Lineage
from localsage.runner.steps.processing import Processing
from localsage.runner.steps.register_model import RegisterModel
from localsage.runner.steps.training import Training
from localsage.runner.steps.transform import Transform
from localsage.runner.steps.tuning import Tuning

STEP_TYPES: tuple[type[StepType], ...] = (
    Processing,
    Training,
    Transform,
    Tuning,
    Condition,
    Fail,
    RegisterModel,
    CreateModel,
    LegacyCreateModel,
    LambdaFunction,
    Callback,
    EndpointConfig,
    Endpoint,
    ForEach,
    Cleanup,
    Lineage,
    InferenceComponent,
)


# The other step types of SageMaker Pipelines (SDK v3's StepTypeEnum) and why the local runner does not run them.
# A step of any of them can still be stubbed: `local-run --stub STEP=FILE` gives the properties it would expose.
NOT_RUN: dict[str, str] = {
    "QualityCheck": "it runs AWS's Model Monitor container, which exists only in AWS",
    "ClarifyCheck": "it runs AWS's Clarify container, which exists only in AWS",
    "EMR": "it submits steps to an EMR cluster, which exists only in AWS",
    "EMRServerless": "it runs on EMR Serverless, which exists only in AWS",
    "AutoML": "it runs SageMaker Autopilot, which exists only in AWS",
    "Job": "it runs a SageMaker job type the emulator does not have",
}


@cache
def step_types() -> dict[str, StepType]:
    """One instance of each step type, by type name."""
    return {step_type.type_name: step_type() for step_type in STEP_TYPES}


@cache
def job_step_types() -> dict[str, ContainerJob]:
    """The step types that run one SageMaker job, by the API's noun for it (TrainingJob, ProcessingJob): what a
    standalone Create*Job request runs as."""
    return {step_type.job_kind: step_type for step_type in step_types().values() if isinstance(step_type, ContainerJob)}
