"""`upsert --aws` runs the jobs in the image CDK published: read from the ML platform stack's output."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from localsage import pipelines
from localsage.errors import UserError


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
