"""Print the definition of a small pipeline built by the real SageMaker SDK v3 (no step needs AWS to compile)."""

import sys

from sagemaker.core.workflow.conditions import (
    ConditionEquals,
    ConditionGreaterThan,
    ConditionGreaterThanOrEqualTo,
    ConditionIn,
    ConditionLessThan,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
)
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterBoolean, ParameterFloat, ParameterInteger, ParameterString
from sagemaker.mlops.workflow import ConditionStep, FailStep, Pipeline

threshold = ParameterFloat("Threshold", default_value=0.5)
region = ParameterString("Region", default_value="eu-west-1")
count = ParameterInteger("Count")
flag = ParameterBoolean("Flag", default_value=True)
report_uri = Join(on="/", values=["s3://bucket", ExecutionVariables.PIPELINE_EXECUTION_ID, "report.json"])
score = JsonGet(s3_uri=report_uri, json_path="metrics.score")
gate = ConditionStep(
    name="Gate",
    conditions=[
        ConditionOr(
            conditions=[ConditionNot(ConditionGreaterThanOrEqualTo(threshold, 1.0)), ConditionIn(region, ["x"])]
        ),
        ConditionEquals(flag, True),
        ConditionGreaterThan(count, 0),
        ConditionLessThan(threshold, 10),
        ConditionLessThanOrEqualTo(score, 1.0),
    ],
    if_steps=[FailStep(name="Accepted", error_message="accepted")],
    else_steps=[FailStep(name="TooLow", error_message=Join(on=" ", values=["score", score, "below", threshold]))],
)
follow_up = ConditionStep(
    name="FollowUp",
    conditions=[ConditionEquals(gate.properties.Outcome, True)],
    if_steps=[FailStep(name="AfterGate", error_message=Join(on="-", values=[ExecutionVariables.PIPELINE_NAME, count]))],
)
pipeline = Pipeline(name="sdk-built", parameters=[threshold, region, count, flag], steps=[gate, follow_up])
sys.stdout.write(pipeline.definition())
