"""The single-sourced model package event pattern and the message the topic receives."""

from __future__ import annotations

import json
import re

import pytest
from moto.events.models import EventPattern

from localsage.facts import events


def _event(**detail):
    return {"source": events.SOURCE, "detail-type": events.DETAIL_TYPE, "detail": detail}


def test_pattern_selects_finished_approved_or_pending_packages_of_the_given_groups():
    pattern = events.model_package_state_change_pattern(["b-stable-models", "a-experimental-models"])
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert pattern["detail"]["ModelPackageGroupName"] == ["a-experimental-models", "b-stable-models"]
    assert set(pattern["detail"]["ModelApprovalStatus"]) == {"Approved", "PendingManualApproval"}
    assert pattern["detail"]["ModelPackageStatus"] == ["Completed"]


def test_message_names_group_version_status_and_metrics():
    event = _event(
        ModelPackageGroupName="abalone-stable-models",
        ModelPackageVersion=3,
        ModelApprovalStatus="Approved",
        ModelPackageArn="arn:aws:sagemaker:us-east-1:000000000000:model-package/abalone-stable-models/3",
        ModelMetrics={"ModelQuality": {"Statistics": {"S3Uri": "s3://bucket/evaluation.json"}}},
    )
    message = events.render_message(event)
    assert message == (
        "Model package group abalone-stable-models: version 3 is now Approved. "
        "Metrics: s3://bucket/evaluation.json. "
        "Package: arn:aws:sagemaker:us-east-1:000000000000:model-package/abalone-stable-models/3"
    )


def test_missing_fields_render_empty_like_eventbridge():
    message = events.render_message(_event(ModelPackageGroupName="g", ModelApprovalStatus="PendingManualApproval"))
    assert "Metrics: ." in message and "version  is now PendingManualApproval" in message


def test_input_transformer_placeholders_and_paths_match_both_ways():
    """EventBridge rejects a template placeholder without a path (and a path without a use is dead)."""
    transformer = events.input_transformer()
    placeholders = set(re.findall(r"<([A-Za-z0-9_]+)>", transformer["InputTemplate"]))
    assert placeholders == set(transformer["InputPathsMap"])


def test_stable_is_always_notified_experimental_only_on_request():
    from localsage.facts.config import ProjectConfig

    config = ProjectConfig(pipeline_base_name="demo")
    assert events.notified_groups(config, notify_experimental=False) == ["demo-stable-models"]
    assert events.notified_groups(config, notify_experimental=True) == [
        "demo-experimental-models",
        "demo-stable-models",
    ]


STABLE = "abalone-stable-models"
FINISHED = {"ModelPackageGroupName": STABLE, "ModelApprovalStatus": "Approved", "ModelPackageStatus": "Completed"}


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({}, True),
        ({"ModelApprovalStatus": "PendingManualApproval"}, True),
        ({"ModelApprovalStatus": "Rejected"}, False),
        ({"ModelPackageStatus": "InProgress"}, False),
        ({"ModelPackageGroupName": "abalone-experimental-models"}, False),
        ({"ModelPackageGroupName": [STABLE, "another"]}, True),
    ],
)
def test_the_matcher_agrees_with_moto_on_the_projects_pattern(detail, expected):
    pattern = events.model_package_state_change_pattern([STABLE])
    event = _event(**{**FINISHED, **detail})
    assert events.matches(pattern, event) is expected
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is expected


def test_a_missing_field_matches_nothing_and_content_filters_are_refused():
    event = _event(ModelPackageGroupName=STABLE, ModelApprovalStatus="Approved")
    assert not events.matches(events.model_package_state_change_pattern([STABLE]), event)
    with pytest.raises(ValueError, match="only lists of plain values"):
        events.matches({"source": [{"prefix": "aws."}]}, event)


def test_a_rendered_message_parses_back_and_other_text_does_not():
    values = {"group": STABLE, "version": "7", "status": "Approved", "metrics": "s3://b/e.json", "arn": "arn:p/7"}
    event = _event(
        ModelPackageGroupName=STABLE,
        ModelPackageVersion=7,
        ModelApprovalStatus="Approved",
        ModelPackageArn="arn:p/7",
        ModelMetrics={"ModelQuality": {"Statistics": {"S3Uri": "s3://b/e.json"}}},
    )
    assert events.parse_message(events.render_message(event)) == values
    assert events.parse_message("something else") is None
