"""Print the definition of a pipeline of `@step` functions, built by the real SageMaker SDK v3: Compute(N) ->
Use(Compute's total), and a Condition on Compute's result read with Std:JsonGet (else Fail).

Usage: python build_function_steps_pipeline.py BUCKET IMAGE ROLE
"""

import json
import sys

import boto3
from sagemaker.core.workflow.conditions import ConditionGreaterThan
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterInteger
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.function_step import step
from sagemaker.mlops.workflow.pipeline import Pipeline

bucket, image, role = sys.argv[1:4]
session = PipelineSession(boto_session=boto3.Session(region_name="us-east-1"), default_bucket=bucket)
count = ParameterInteger(name="N", default_value=3)


@step(name="Compute", instance_type="ml.m5.large", role=role, image_uri=image, keep_alive_period_in_seconds=0)
def compute(n: int) -> dict:
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return {"total": n * 2, "label": "ok"}


@step(name="Use", instance_type="ml.m5.large", role=role, image_uri=image, keep_alive_period_in_seconds=0)
def use(total):
    return total + 1


result = compute(count)
used = use(result["total"])
check = ConditionStep(
    name="Check",
    conditions=[ConditionGreaterThan(left=result["total"], right=4)],
    if_steps=[],
    else_steps=[FailStep(name="TooSmall", error_message=Join(on=" ", values=["total was", result["total"]]))],
)
pipeline = Pipeline(name="functions", parameters=[count], steps=[used, check], sagemaker_session=session)
sys.stdout.write(json.dumps(json.loads(pipeline.definition())))
