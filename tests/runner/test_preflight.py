"""Pre-flight: a run that needs an input or a model package group that does not exist is refused before any step
runs, naming the step and what to create; what another step writes, and what is known only later, is not checked."""

from __future__ import annotations

import uuid

import pytest
from definitions_support import hand_written, processing_step, s3_input, upload

from localsage.errors import UserError
from localsage.runner import preflight
from localsage.runner.definition import load


def register_step(group: object) -> dict:
    return {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": group,
            "InferenceSpecification": {
                "Containers": [{"Image": "image:latest", "ModelDataUrl": {"Get": "Steps.Prep.ProcessingJobArn"}}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelApprovalStatus": "PendingManualApproval",
        },
    }


def missing(local_target, steps: list[dict], parameters: list[dict] | None = None, **values) -> list[str]:
    definition = load(hand_written(steps, parameters))
    return preflight.missing(definition, definition.resolve_parameters(values), local_target)


def test_inputs_that_exist_pass_and_a_missing_one_is_named(local_target):
    code = upload(local_target, "tests/preflight/code/job.py", b"print('x')\n")
    step = processing_step("Prep", code, "job.py")
    assert missing(local_target, [step]) == []
    absent = f"s3://{local_target.bucket}/tests/preflight/absent-{uuid.uuid4().hex}/data.csv"
    step["Arguments"]["ProcessingInputs"].append(s3_input("raw", absent, "/opt/ml/processing/raw"))
    (problem,) = missing(local_target, [step])
    assert problem.startswith(f"step Prep: input {absent} does not exist in local: upload it")


def test_an_input_named_by_a_parameter_is_checked_with_the_value_given(local_target):
    code = upload(local_target, "tests/preflight/code/job.py", b"print('x')\n")
    data = upload(local_target, "tests/preflight/data/rows.csv", b"a\n1\n")
    step = processing_step("Prep", code, "job.py")
    step["Arguments"]["ProcessingInputs"].append(s3_input("raw", {"Get": "Parameters.Data"}, "/opt/ml/processing/raw"))
    parameters = [{"Name": "Data", "Type": "String", "DefaultValue": data}]
    assert missing(local_target, [step], parameters) == []
    (problem,) = missing(local_target, [step], parameters, Data=f"s3://{local_target.bucket}/tests/preflight/nope.csv")
    assert "input s3://" in problem and "nope.csv does not exist" in problem


def test_what_another_step_writes_and_what_is_known_later_are_left_to_the_run(local_target):
    code = upload(local_target, "tests/preflight/code/job.py", b"print('x')\n")
    produced = f"s3://{local_target.bucket}/tests/preflight/produced-{uuid.uuid4().hex}"
    writer = processing_step("Prep", code, "job.py", outputs={"out": produced})
    reader = processing_step("Read", code, "job.py")
    reader["Arguments"]["ProcessingInputs"].append(s3_input("in", f"{produced}/part.csv", "/opt/ml/processing/in"))
    later = {"Std:Join": {"On": "/", "Values": ["s3:/", local_target.bucket, {"Get": "Execution.PipelineExecutionId"}]}}
    reader["Arguments"]["ProcessingInputs"].append(s3_input("run", later, "/opt/ml/processing/run"))
    assert missing(local_target, [writer, reader]) == []


def test_a_missing_model_package_group_is_named_with_how_to_create_it(local_target):
    code = upload(local_target, "tests/preflight/code/job.py", b"print('x')\n")
    group = f"preflight-{uuid.uuid4().hex[:8]}"
    steps = [processing_step("Prep", code, "job.py"), register_step(group)]
    (problem,) = missing(local_target, steps)
    assert problem == (
        f"step Register: model package group {group} does not exist in local: create it "
        f"(aws sagemaker create-model-package-group --model-package-group-name {group})"
    )
    local_target.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    assert missing(local_target, steps) == []
    definition = load(hand_written([processing_step("Prep", code, "job.py"), register_step("absent-group")]))
    with pytest.raises(UserError, match="^step Register: model package group absent-group does not exist"):
        preflight.check(definition, {}, local_target)
