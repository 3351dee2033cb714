"""The steps without a container: Condition, Fail, RegisterModel, Model (the last two on the emulator)."""

from __future__ import annotations

import pytest
from definitions_support import IMAGE, ROLE
from steps_support import context

from localsage.runner.steps.base import StepFailed
from localsage.runner.steps.condition import Condition
from localsage.runner.steps.create_model import CreateModel, LegacyCreateModel
from localsage.runner.steps.fail import Fail
from localsage.runner.steps.register_model import RegisterModel
from localsage.runner.steps.registry import NOT_RUN, step_types


def test_a_condition_evaluates_resolved_values_and_reports_its_outcome(local_target, tmp_path):
    conditions = [{"Type": "LessThanOrEqualTo", "LeftValue": 2.3, "RightValue": 3.0}]
    step = context(local_target, tmp_path, "Gate", "Condition", {})
    assert Condition().run({"Conditions": conditions}, step).outcome is True
    false = [{"Type": "Not", "Condition": conditions[0]}]
    result = Condition().run({"Conditions": false}, step)
    assert (result.outcome, result.properties) == (False, {"Outcome": False})


def test_a_fail_step_fails_with_its_message(local_target, tmp_path):
    step = context(local_target, tmp_path, "Stop", "Fail", {})
    with pytest.raises(StepFailed, match="^step Stop: rmse 4.1 is above 3.0$"):
        Fail().run({"ErrorMessage": "rmse 4.1 is above 3.0"}, step)
    with pytest.raises(StepFailed, match="reached a Fail step"):
        Fail().run({}, step)


def test_register_model_creates_a_version_and_notifies_it(local_target, tmp_path):
    group = "step-tests-models"
    local_target.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    notified: list[str] = []

    class Watched:
        """The session's target, noting the change notifications the step sends."""

        def __getattr__(self, name):
            return getattr(local_target, name)

        def model_package_changed(self, arn, say=print):
            notified.append(arn)

    arguments = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "SdkOnlyKey": "dropped, CreateModelPackage does not take it",
    }
    properties = (
        RegisterModel().run(arguments, context(Watched(), tmp_path, "Register", "RegisterModel", {})).properties
    )
    assert properties["ModelPackageGroupName"] == group and properties["ModelApprovalStatus"] == "PendingManualApproval"
    assert notified == [properties["ModelPackageArn"]]


def test_a_model_step_creates_a_model_named_after_its_job(local_target, tmp_path):
    step = context(local_target, tmp_path, "Model", "Model", {})
    arguments = {"ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}}
    properties = CreateModel().run(arguments, step).properties
    assert properties["ModelName"] == step.job_name()
    described = local_target.client("sagemaker").describe_model(ModelName=step.job_name())
    assert described["PrimaryContainer"]["Image"] == IMAGE


def test_the_registry_holds_one_unit_per_type_with_its_facts():
    types = step_types()
    assert set(types) == {
        "Processing", "Training", "Transform", "Tuning", "Condition", "Fail", "RegisterModel", "Model", "CreateModel",
        "Lambda", "Callback", "EndpointConfig", "Endpoint", "ForEach", "Cleanup", "Lineage", "InferenceComponent",
    }  # fmt: skip
    jobs = {"Processing", "Training", "Transform"}
    assert {name for name, step_type in types.items() if step_type.cacheable} == {*jobs, "Tuning"}
    assert {name for name, step_type in types.items() if step_type.runs_container} == jobs
    assert all(step_type.locally for step_type in types.values())
    assert isinstance(types["CreateModel"], LegacyCreateModel)
    assert types["Fail"].property_names() == frozenset() and types["Condition"].property_names() == {"Outcome"}


def test_every_step_type_of_the_sdk_either_runs_or_says_why_not(local_target):
    """`./dev steps` and the refusal of a definition read one catalogue; it must cover the SDK's StepTypeEnum."""
    from sagemaker.mlops.workflow.steps import StepTypeEnum

    sdk_types = {member.value for member in StepTypeEnum}
    runs = set(step_types()) - {"CreateModel"}  # SDK v2's name for Model
    assert runs | set(NOT_RUN) == sdk_types
    assert not runs & set(NOT_RUN)


def test_long_step_names_keep_distinct_job_names_within_sagemakers_limit():
    from localsage.runner.steps.base import job_name

    long_step = "x" * 45
    names = {job_name("abcdefghijkl", f"{long_step}-{index}") for index in range(12)}
    assert len(names) == 12 and all(len(name) <= 63 for name in names)
    assert job_name("abcdefghijkl", "Train") == "pipelines-abcdefghijkl-Train"
