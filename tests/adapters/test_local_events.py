"""The local stand-in for SageMaker's model events: the event's shape, the groups the rule covers (cdk.json),
and the target's hook end to end on the emulator (bus, rule match, one message per change)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import REPO
from projects import copy_project

from localsage.adapters import local_events, targets
from localsage.facts import config as project_config
from localsage.facts import events as model_events
from localsage.operations.notifications import delivered_messages

CONFIG = project_config.load(REPO)
STABLE, EXPERIMENTAL = CONFIG.model_package_group("stable"), CONFIG.model_package_group("experimental")
ARN = f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{STABLE}/3"
DESCRIBED = {
    "ModelPackageGroupName": STABLE,
    "ModelPackageVersion": 3,
    "ModelPackageArn": ARN,
    "CreationTime": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    "LastModifiedTime": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    "ModelPackageStatus": "Completed",
    "ModelApprovalStatus": "Approved",
    "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/e.json"}}},
    "CreatedBy": {"UserProfileName": "not in the event"},
    "ResponseMetadata": {"HTTPStatusCode": 200},
}


def test_the_event_has_the_shape_sagemaker_emits():
    event = local_events.state_change_event(DESCRIBED, "000000000000", "us-east-1")
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Model Package State Change")
    assert event["resources"] == [ARN] and event["time"] == "2026-03-01T09:30:00Z"
    assert event["detail"]["CreationTime"] == "2026-03-01T08:00:00.000Z"
    assert "CreatedBy" not in event["detail"] and "ResponseMetadata" not in event["detail"]
    assert model_events.render_message(event) == (
        f"Model package group {STABLE}: version 3 is now Approved. Metrics: s3://b/e.json. Package: {ARN}"
    )


@pytest.mark.parametrize(("flag", "groups"), [(False, [STABLE]), (True, [EXPERIMENTAL, STABLE])])
def test_the_rule_covers_the_groups_the_stack_reads_from_cdk_json(tmp_path, flag, groups):
    document = json.loads((REPO / "infra" / "cdk.json").read_text())
    document["context"]["notify_experimental"] = flag
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "cdk.json").write_text(json.dumps(document))
    assert local_events.notified_groups(tmp_path, CONFIG) == groups


@pytest.fixture
def project_target(local_target, tmp_path):
    """A target of its own project (own group, topic, inbox) in the session's emulator."""
    root = copy_project(tmp_path / "project", "events")
    target = targets.local(root, say=lambda message: None)
    group = target.config.model_package_group("stable")
    target.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    return target


def register(target, approval: str) -> str:
    return target.client("sagemaker").create_model_package(
        ModelPackageGroupName=target.config.model_package_group("stable"),
        ModelApprovalStatus=approval,
        InferenceSpecification={
            "Containers": [{"Image": "image:latest", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]


def test_a_notified_change_reaches_the_inbox_once_even_when_retried(project_target):
    arn = register(project_target, "PendingManualApproval")
    delivery = project_target.model_package_changed(arn, say=lambda message: None)
    again = project_target.model_package_changed(arn, say=lambda message: None)
    assert delivery.status == "PendingManualApproval" and not delivery.already_delivered
    assert again.already_delivered and again.message_id == delivery.message_id
    about = [message for message in delivered_messages(project_target) if message["message"].endswith(arn)]
    assert [message["message_id"] for message in about] == [delivery.message_id]
    assert model_events.parse_message(about[0]["message"])["arn"] == arn


def test_a_change_the_rule_does_not_match_sends_nothing_and_says_why(project_target):
    said: list[str] = []
    arn = register(project_target, "Rejected")
    assert project_target.model_package_changed(arn, say=said.append) is None
    assert any("the notifications rule does not match it" in message for message in said)
    assert not [message for message in delivered_messages(project_target) if message["message"].endswith(arn)]


def test_the_aws_target_leaves_events_to_sagemaker(tmp_path):
    aws_target = targets.Target("aws", tmp_path, CONFIG, "123456789012")
    assert aws_target.model_package_changed(ARN) is None
