"""Run conditions (SDK v3's StepDependency): a step meant to run when another fails runs only then, and the
execution ends CompletedWithFailures, as SageMaker reports it, through the emulator's API."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
from definitions_support import ROLE, deploy_function, sdk_build

DATA = Path(__file__).parents[1] / "runner" / "data"
WORK = """
def handler(event, context):
    if event["fail"]:
        raise RuntimeError("work failed")
    return {"done": True}
"""
NOTIFY = "def handler(event, context):\n    return {'sent': True}\n"


@pytest.fixture(scope="module")
def pipeline(local_target, tmp_path_factory) -> str:
    work = deploy_function(local_target, f"work-{secrets.token_hex(3)}", {"app.py": WORK})
    notify = deploy_function(local_target, f"notify-{secrets.token_hex(3)}", {"app.py": NOTIFY})
    built = sdk_build(tmp_path_factory.mktemp("conditions"), DATA / "build_run_conditions_pipeline.py", work, notify)
    assert built["Steps"][1]["DependsOn"] == [{"Step": "Work", "Trigger": "Failed"}]
    local_target.client("sagemaker").create_pipeline(
        PipelineName="run-conditions", PipelineDefinition=json.dumps(built), RoleArn=ROLE
    )
    return "run-conditions"


def run(target, pipeline: str, fail: bool) -> tuple[dict, dict]:
    sagemaker = target.client("sagemaker")
    parameters = [{"Name": "Fail", "Value": str(fail).lower()}]
    arn = sagemaker.start_pipeline_execution(PipelineName=pipeline, PipelineParameters=parameters)[
        "PipelineExecutionArn"
    ]
    deadline = time.time() + 120
    while (described := sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))[
        "PipelineExecutionStatus"
    ] == "Executing":
        assert time.time() < deadline
        time.sleep(0.3)
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return described, {step["StepName"]: step["StepStatus"] for step in listed}


def test_the_failure_handler_runs_when_its_step_fails(local_target, pipeline):
    described, steps = run(local_target, pipeline, fail=True)
    assert described["PipelineExecutionStatus"] == "CompletedWithFailures"
    assert steps == {"Work": "Failed", "Notify": "Succeeded"}


def test_the_failure_handler_does_not_run_when_all_goes_well(local_target, pipeline):
    described, steps = run(local_target, pipeline, fail=False)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert steps == {"Work": "Succeeded"}
