"""Requests checked by botocore's model of the SageMaker API: each rule SageMaker answers with a ValidationException."""

from __future__ import annotations

import pytest
from definitions_support import CLUSTER, IMAGE, ROLE, s3_input

from localsage.adapters import api_rules
from localsage.runner.expressions import is_expression


def processing_request(**changes) -> dict:
    request = {
        "ProcessingJobName": "pipelines-abc123def456-Preprocess",
        "ProcessingResources": {"ClusterConfig": dict(CLUSTER)},
        "AppSpecification": {"ImageUri": IMAGE},
        "RoleArn": ROLE,
        "ProcessingInputs": [s3_input("code", "s3://bucket/code", "/opt/ml/processing/input/code")],
    }
    request.update(changes)
    return request


def problems(request: dict, operation: str = "CreateProcessingJob", unknown=lambda value: False) -> list[str]:
    return [str(violation) for violation in api_rules.violations("sagemaker", operation, request, unknown)]


def test_a_request_sagemaker_takes_has_no_problems():
    assert problems(processing_request()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ProcessingJobName": "p" * 70}, "ProcessingJobName: 70 characters, SageMaker allows at most 63"),
        ({"ProcessingJobName": "bad_name"}, "ProcessingJobName: 'bad_name' does not match SageMaker's pattern"),
        (
            {"ProcessingResources": {"ClusterConfig": {**CLUSTER, "InstanceCount": 0}}},
            "ProcessingResources.ClusterConfig.InstanceCount: 0, SageMaker allows at least 1",
        ),
        (
            {"ProcessingResources": {"ClusterConfig": {**CLUSTER, "InstanceCount": "2"}}},
            "ProcessingResources.ClusterConfig.InstanceCount: '2' is not an integer",
        ),
        (
            {"ProcessingResources": {"ClusterConfig": {**CLUSTER, "InstanceType": "ml.m5.huge"}}},
            "ProcessingResources.ClusterConfig.InstanceType: 'ml.m5.huge' is not one of ml.t3.medium",
        ),
        (
            {"ProcessingInputs": [s3_input("code", "s3://b/c", "/opt/ml/processing/c", S3DataType="Folder")]},
            "ProcessingInputs[0].S3Input.S3DataType: 'Folder' is not one of ManifestFile, S3Prefix",
        ),
        ({"ProcessingInputs": [{"InputName": "code"} for _ in range(11)]}, "ProcessingInputs: 11 items"),
        ({"Environment": {"K": "v" * 300}}, "Environment.K: 300 characters, SageMaker allows at most 256"),
        ({"RoleArn": "role"}, "RoleArn: 4 characters, SageMaker allows at least 20"),
    ],
    ids=["too-long", "pattern", "below-minimum", "type", "enum", "nested-enum", "too-many", "map-value", "short"],
)
def test_each_rule_names_the_json_path_and_the_rule(changes, expected):
    assert any(problem.startswith(expected) for problem in problems(processing_request(**changes))), problems(
        processing_request(**changes)
    )


def test_a_missing_required_member_is_named_at_every_depth():
    request = processing_request(AppSpecification={})
    del request["RoleArn"]
    assert problems(request) == [
        "AppSpecification.ImageUri: missing; SageMaker requires it",
        "RoleArn: missing; SageMaker requires it",
    ]


def test_an_expression_is_left_out_until_it_has_a_value():
    expression = {"Get": "Parameters.InstanceCount"}
    request = processing_request(ProcessingResources={"ClusterConfig": {**CLUSTER, "InstanceCount": expression}})
    assert problems(request, unknown=is_expression) == []
    assert problems(request) == [
        "ProcessingResources.ClusterConfig.InstanceCount: {'Get': 'Parameters.InstanceCount'} is not an integer"
    ]


def test_a_huge_value_is_shown_shortened_and_many_problems_in_one_line():
    found = api_rules.violations("sagemaker", "CreateProcessingJob", processing_request(RoleArn=["x" * 10_000]))
    assert len(str(found[0])) < 120
    assert api_rules.summary(["first", "second", "third"]) == "first (+2 more)"
    assert api_rules.summary(["only"]) == "only"


def test_the_pipeline_definition_size_limit_comes_from_the_model():
    request = {"PipelineName": "p", "PipelineDefinition": "x" * 1_048_577, "RoleArn": ROLE}
    assert problems(request, "CreatePipeline") == [
        "PipelineDefinition: 1048577 characters, SageMaker allows at most 1048576"
    ]
