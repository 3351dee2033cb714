"""Pipelines on a target: create or update in place, read the definition back, the quality gate's metric, and
the step image CDK published (what `upsert --aws` runs the jobs in)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from localsage.errors import UserError
from localsage.operations import pipelines


@pytest.fixture
def other_project(local_target):
    """A target whose stack names no other test deploys (the emulator plays the AWS account here)."""
    return replace(local_target, config=replace(local_target.config, pipeline_base_name="image-lookup"))


def test_a_missing_platform_stack_says_what_to_deploy(other_project):
    with pytest.raises(UserError, match=r"stack image-lookup-ml-platform is not deployed .*--stacks ml-platform"):
        pipelines.deployed_step_image(other_project)


def test_the_image_is_the_stacks_output(other_project):
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"StepImageUri": {"Value": "000000000000.dkr.ecr.us-east-1.amazonaws.com/assets:abc123"}},
    }
    cloudformation = other_project.client("cloudformation")
    cloudformation.create_stack(StackName="image-lookup-ml-platform", TemplateBody=json.dumps(template))
    try:
        assert pipelines.deployed_step_image(other_project).endswith("/assets:abc123")
    finally:
        cloudformation.delete_stack(StackName="image-lookup-ml-platform")


DEFINITION = {
    "Version": "2020-12-01",
    "Parameters": [],
    "Steps": [
        {
            "Name": "Gate",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {
                        "Type": "LessThanOrEqualTo",
                        "LeftValue": {
                            "Std:JsonGet": {"PropertyFile": {"Get": "Steps.E.PropertyFiles.R"}, "Path": "m.rmse.value"}
                        },
                        "RightValue": 3.0,
                    }
                ],
                "IfSteps": [],
                "ElseSteps": [],
            },
        }
    ],
}


def test_upsert_creates_then_updates_the_same_pipeline_and_reads_it_back(other_project):
    name = "image-lookup-upserted"
    first_arn, created = pipelines.upsert_pipeline(other_project, name, DEFINITION)
    changed = {**DEFINITION, "Parameters": [{"Name": "P", "Type": "String", "DefaultValue": "x"}]}
    second_arn, created_again = pipelines.upsert_pipeline(other_project, name, changed)
    assert (created, created_again) == (True, False) and first_arn == second_arn
    assert pipelines.deployed_definition(other_project, name) == changed
    tags = other_project.client("sagemaker").list_tags(ResourceArn=first_arn)["Tags"]
    assert {"Key": "project", "Value": "image-lookup"} in tags


def test_a_pipeline_another_run_created_after_the_check_is_updated(other_project):
    """Two local-runs of a new pipeline at once: both prepare a CreatePipeline; the second one updates."""
    name = "image-lookup-raced"
    first = pipelines.upsert_request(other_project, name, DEFINITION)
    second = pipelines.upsert_request(other_project, name, DEFINITION)
    assert (first.operation, second.operation) == ("CreatePipeline", "CreatePipeline")
    arn, created = pipelines.send(other_project, first)
    assert pipelines.send(other_project, second) == (arn, False) and created


def test_a_definition_sagemaker_would_refuse_is_not_sent(other_project):
    """The emulator stores a definition of any size; SageMaker takes at most 1 MiB, so the upsert stops here."""
    name = "image-lookup-too-large"
    huge = {**DEFINITION, "Metadata": {"notes": "x" * 1_048_576}}
    with pytest.raises(
        UserError, match=rf"^CreatePipeline {name}: PipelineDefinition: \d+ characters, SageMaker allows"
    ):
        pipelines.upsert_pipeline(other_project, name, huge)
    assert not pipelines.pipeline_exists(other_project.client("sagemaker"), name)
    with pytest.raises(UserError, match=r"^CreatePipeline not_valid: PipelineName: 'not_valid' does not match"):
        pipelines.upsert_pipeline(other_project, "not_valid", DEFINITION)


def test_a_pipeline_never_upserted_is_one_line(other_project):
    with pytest.raises(UserError, match="pipeline image-lookup-nothing does not exist in local: run './dev upsert'"):
        pipelines.deployed_definition(other_project, "image-lookup-nothing")


def test_the_quality_metric_is_what_the_condition_step_reads():
    assert pipelines.quality_metric_path(DEFINITION) == "m.rmse.value"
    assert pipelines.quality_metric_path({"Steps": [{"Name": "A", "Type": "Processing", "Arguments": {}}]}) is None
