"""`@step` functions (SDK v3): a pipeline of them, built by the real SDK, started through the emulator's API, runs
the SDK's own remote-function bootstrap on this machine; the SDK reads each step's result as it does in AWS
(`get_function_step_result`, what `PipelineExecution.result(...)` calls), and a raised exception fails the step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from definitions_support import IMAGE, ROLE, sdk_build

DATA = Path(__file__).parents[1] / "runner" / "data"


@pytest.fixture(scope="module")
def pipeline(local_target, tmp_path_factory) -> str:
    local_target.ensure_bucket()
    built = sdk_build(tmp_path_factory.mktemp("functions"), DATA / "build_function_steps_pipeline.py",
                      local_target.bucket, IMAGE, ROLE)  # fmt: skip
    assert {step["Name"]: step["Type"] for step in built["Steps"]}.items() >= {"Check": "Condition"}.items()
    sagemaker = local_target.client("sagemaker")
    sagemaker.create_pipeline(PipelineName="functions", PipelineDefinition=json.dumps(built), RoleArn=ROLE)
    return "functions"


def finished(sagemaker, arn: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
        "PipelineExecutionStatus"
    ] == "Executing":
        assert time.time() < deadline, f"{arn} still running after {timeout} s"
        time.sleep(0.5)
    return described


def sdk_session(target):
    from sagemaker.core.helper.session_helper import Session

    return Session(boto_session=boto3.Session(region_name=target.region), default_bucket=target.bucket)


def test_function_results_are_read_by_the_sdk_as_in_aws(local_target, pipeline):
    from sagemaker.mlops.workflow.pipeline import get_function_step_result

    sagemaker = local_target.client("sagemaker")
    arn = sagemaker.start_pipeline_execution(PipelineName=pipeline)["PipelineExecutionArn"]
    assert finished(sagemaker, arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    session = sdk_session(local_target)
    execution_id = arn.rsplit("/", 1)[1]
    compute = get_function_step_result("Compute", steps, execution_id, session)
    assert compute == {"total": 6, "label": "ok"}
    assert get_function_step_result("Use", steps, execution_id, session) == 7


def test_an_exception_in_the_function_fails_its_step_and_nothing_after_it_runs(local_target, pipeline):
    sagemaker = local_target.client("sagemaker")
    arn = sagemaker.start_pipeline_execution(PipelineName=pipeline, PipelineParameters=[{"Name": "N", "Value": "-1"}])[
        "PipelineExecutionArn"
    ]
    described = finished(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"].startswith("step Compute: "), described["FailureReason"]
    assert "n must not be negative, got -1" in described["FailureReason"], described["FailureReason"]
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    statuses = {step["StepName"]: step["StepStatus"] for step in listed}
    assert statuses.get("Compute") == "Failed" and "Use" not in statuses
