"""The emulator's pipeline-execution API, driven with boto3 as any client drives it: StartPipelineExecution runs the
stored definition on this machine, and Describe, List*, Stop and Retry tell the truth about it."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from definitions_support import hand_written, processing_step, upload

SLEEP = (
    b"import os, time\ntime.sleep(float(os.environ.get('SECONDS', '0')))\nprint('slept', os.environ.get('SECONDS'))\n"
)
FAIL_UNLESS = (
    b"import os, pathlib, sys\n"
    b"marker = pathlib.Path(os.environ['MARKER'])\n"
    b"sys.exit(0 if marker.exists() else 'no marker yet: ' + str(marker))\n"
)


def sagemaker(target):
    return target.client("sagemaker")


def pipeline(target, name: str, definition: dict) -> str:
    client = sagemaker(target)
    with contextlib.suppress(ClientError):
        client.delete_pipeline(PipelineName=name)
    client.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn="arn:aws:iam::000000000000:role/x"
    )
    return name


def sleeper(target, name: str, seconds: float, **extra) -> dict:
    code = upload(target, "tests/controlplane/code/sleep.py", SLEEP)
    step = processing_step(name, code, "sleep.py")
    step["Arguments"]["Environment"] = {"SECONDS": str(seconds)}
    step.update(extra)
    return step


def finished(target, arn: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sagemaker(target).describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        time.sleep(0.3)
    raise AssertionError(f"{arn} still running after {timeout} s")


def steps_of(target, arn: str) -> dict[str, dict]:
    listed = sagemaker(target).list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return {step["StepName"]: step for step in listed}


def test_a_start_runs_the_stored_definition_and_returns_at_once(local_target):
    name = pipeline(local_target, "cp-quick", hand_written([sleeper(local_target, "Nap", 1.5)]))
    started = time.monotonic()
    arn = sagemaker(local_target).start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert time.monotonic() - started < 1.5, "StartPipelineExecution does not wait for the run"
    assert arn.startswith(f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/{name}/execution/")
    assert sagemaker(local_target).describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == (
        "Executing"
    )
    described = finished(local_target, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded" and "FailureReason" not in described
    (nap,) = steps_of(local_target, arn).values()
    assert nap["StepStatus"] == "Succeeded" and nap["AttemptCount"] == 1
    assert nap["Metadata"]["ProcessingJob"]["Arn"].endswith(f"/pipelines-{arn.rsplit('/', 1)[1]}-nap")
    summaries = sagemaker(local_target).list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]
    assert arn in [summary["PipelineExecutionArn"] for summary in summaries]


def test_parameters_are_typed_checked_and_listed(local_target):
    definition = hand_written(
        [sleeper(local_target, "Nap", 0)],
        parameters=[
            {"Name": "Threshold", "Type": "Float", "DefaultValue": 2.5},
            {"Name": "Mode", "Type": "String", "DefaultValue": "a"},
        ],
    )
    name = pipeline(local_target, "cp-parameters", definition)
    client = sagemaker(local_target)
    with pytest.raises(ClientError, match=r"ValidationException.*Threshold.*not a Float"):
        client.start_pipeline_execution(PipelineName=name, PipelineParameters=[{"Name": "Threshold", "Value": "high"}])
    arn = client.start_pipeline_execution(PipelineName=name, PipelineParameters=[{"Name": "Mode", "Value": "b"}])[
        "PipelineExecutionArn"
    ]
    listed = client.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert {item["Name"]: item["Value"] for item in listed} == {"Threshold": "2.5", "Mode": "b"}
    finished(local_target, arn)


def test_a_fail_step_ends_the_execution_failed_with_its_message(local_target):
    definition = hand_written(
        [
            {
                "Name": "Gate",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [{"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Score"}, "RightValue": 5}],
                    "IfSteps": [],
                    "ElseSteps": [
                        {
                            "Name": "TooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": ["score", {"Get": "Parameters.Score"}, "is too low"],
                                    }
                                }
                            },
                        }
                    ],
                },
            }
        ],
        parameters=[{"Name": "Score", "Type": "Integer", "DefaultValue": 3}],
    )
    name = pipeline(local_target, "cp-failing", definition)
    arn = sagemaker(local_target).start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    described = finished(local_target, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "step TooLow: score 3 is too low"
    steps = steps_of(local_target, arn)
    assert steps["Gate"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["TooLow"]["StepStatus"] == "Failed" and steps["TooLow"]["Metadata"] == {
        "Fail": {"ErrorMessage": "score 3 is too low"}
    }


def test_a_stop_stops_the_running_step(local_target):
    name = pipeline(
        local_target,
        "cp-stopped",
        hand_written([sleeper(local_target, "Long", 60), sleeper(local_target, "After", 0, DependsOn=["Long"])]),
    )
    client = sagemaker(local_target)
    arn = client.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    deadline = time.time() + 60
    while "Long" not in steps_of(local_target, arn) and time.time() < deadline:
        time.sleep(0.2)
    client.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))
    assert client.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
        "Stopping",
        "Stopped",
    )
    described = finished(local_target, arn, timeout=30)
    assert described["PipelineExecutionStatus"] == "Stopped"
    steps = steps_of(local_target, arn)
    assert steps["Long"]["StepStatus"] == "Stopped" and "After" not in steps
    with pytest.raises(ClientError, match="only an executing one stops"):
        client.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))


def test_a_retry_runs_the_failed_steps_again_and_keeps_the_succeeded_ones(local_target, tmp_path):
    code = upload(local_target, "tests/controlplane/code/fail_unless.py", FAIL_UNLESS)
    flaky = processing_step("Flaky", code, "fail_unless.py")
    flaky["Arguments"]["Environment"] = {"MARKER": str(tmp_path / "marker")}
    flaky["DependsOn"] = ["First"]
    name = pipeline(local_target, "cp-retried", hand_written([sleeper(local_target, "First", 0), flaky]))
    client = sagemaker(local_target)
    arn = client.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert finished(local_target, arn)["PipelineExecutionStatus"] == "Failed"
    first_end = steps_of(local_target, arn)["First"]["EndTime"]
    (tmp_path / "marker").touch()
    assert (
        client.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))[
            "PipelineExecutionArn"
        ]
        == arn
    )
    assert finished(local_target, arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = steps_of(local_target, arn)
    assert steps["First"]["EndTime"] == first_end and steps["First"]["AttemptCount"] == 1, "not run again"
    assert steps["Flaky"]["StepStatus"] == "Succeeded" and steps["Flaky"]["AttemptCount"] == 2
    with pytest.raises(ClientError, match="only a failed one is retried"):
        client.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=str(uuid.uuid4()))


def test_parallelism_configuration_limits_concurrent_steps(local_target):
    definition = hand_written([sleeper(local_target, name, 1.0) for name in ("A", "B", "C")])
    name = pipeline(local_target, "cp-parallelism", definition)
    arn = sagemaker(local_target).start_pipeline_execution(
        PipelineName=name, ParallelismConfiguration={"MaxParallelExecutionSteps": 1}
    )["PipelineExecutionArn"]
    assert finished(local_target, arn)["PipelineExecutionStatus"] == "Succeeded"
    spans = sorted((step["StartTime"], step["EndTime"]) for step in steps_of(local_target, arn).values())
    assert all(
        earlier_end <= later_start for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False)
    ), spans
    assert sagemaker(local_target).describe_pipeline_execution(PipelineExecutionArn=arn)[
        "ParallelismConfiguration"
    ] == {"MaxParallelExecutionSteps": 1}


def test_the_same_client_token_starts_one_execution(local_target):
    name = pipeline(local_target, "cp-idempotent", hand_written([sleeper(local_target, "Nap", 0)]))
    token = str(uuid.uuid4())
    client = sagemaker(local_target)
    first = client.start_pipeline_execution(PipelineName=name, ClientRequestToken=token)["PipelineExecutionArn"]
    again = client.start_pipeline_execution(PipelineName=name, ClientRequestToken=token)["PipelineExecutionArn"]
    assert first == again
    finished(local_target, first)


def test_unknown_pipelines_and_executions_are_resource_not_found(local_target):
    client = sagemaker(local_target)
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.start_pipeline_execution(PipelineName="cp-does-not-exist")
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_pipeline_execution(
            PipelineExecutionArn="arn:aws:sagemaker:us-east-1:000000000000:pipeline/x/execution/000000000000"
        )


def test_a_definition_the_runner_cannot_run_is_refused_at_start(local_target):
    definition = hand_written([{"Name": "T", "Type": "EMR", "Arguments": {}}])
    name = pipeline(local_target, "cp-unsupported", definition)
    with pytest.raises(ClientError, match="ValidationException.*step T has type EMR"):
        sagemaker(local_target).start_pipeline_execution(PipelineName=name)


def test_a_step_request_sagemaker_would_refuse_fails_that_step_naming_the_rule(local_target):
    """As in SageMaker, the pipeline is created and started; the step whose request is refused fails, saying why."""
    step = sleeper(local_target, "Wide", 0)
    step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = {"Get": "Parameters.Count"}
    definition = hand_written([step], [{"Name": "Count", "Type": "Integer", "DefaultValue": 1}])
    name = pipeline(local_target, "cp-refused", definition)
    arn = sagemaker(local_target).start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": "Count", "Value": "0"}]
    )["PipelineExecutionArn"]
    described = finished(local_target, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    wide = steps_of(local_target, arn)["Wide"]
    assert wide["StepStatus"] == "Failed"
    assert wide["FailureReason"].endswith(
        "Steps[0].Arguments.ProcessingResources.ClusterConfig.InstanceCount: 0, SageMaker allows at least 1"
    )
