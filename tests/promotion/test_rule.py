"""The local rule: the event's shape, the pattern matcher (checked against moto's own), the groups the stack covers."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from conftest import REPO
from moto.events.models import EventPattern

from localsage import config as project_config
from localsage import events as model_events
from localsage import notify

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


def event_with(**detail) -> dict:
    described = {**DESCRIBED, **detail}
    return notify.state_change_event(described, "000000000000", "us-east-1")


def test_the_event_has_the_shape_sagemaker_emits():
    event = event_with()
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Model Package State Change")
    assert event["resources"] == [ARN] and event["time"] == "2026-03-01T09:30:00Z"
    assert event["detail"]["CreationTime"] == "2026-03-01T08:00:00.000Z"
    assert "CreatedBy" not in event["detail"] and "ResponseMetadata" not in event["detail"]
    assert model_events.render_message(event) == (
        f"Model package group {STABLE}: version 3 is now Approved. Metrics: s3://b/e.json. Package: {ARN}"
    )


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({}, True),
        ({"ModelApprovalStatus": "PendingManualApproval"}, True),
        ({"ModelApprovalStatus": "Rejected"}, False),
        ({"ModelPackageStatus": "InProgress"}, False),
        ({"ModelPackageGroupName": EXPERIMENTAL}, False),
        ({"ModelPackageGroupName": [STABLE, "another"]}, True),
    ],
)
def test_the_matcher_agrees_with_moto_on_the_projects_pattern(detail, expected):
    pattern = model_events.model_package_state_change_pattern([STABLE])
    event = event_with(**detail)
    assert notify.matches(pattern, event) is expected
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is expected


def test_a_missing_field_matches_nothing_and_content_filters_are_refused():
    event = event_with()
    del event["detail"]["ModelPackageStatus"]
    assert not notify.matches(model_events.model_package_state_change_pattern([STABLE]), event)
    with pytest.raises(ValueError, match="only lists of plain values"):
        notify.matches({"source": [{"prefix": "aws."}]}, event)


@pytest.mark.parametrize(("flag", "groups"), [(False, [STABLE]), (True, [EXPERIMENTAL, STABLE])])
def test_the_rule_covers_the_groups_the_stack_reads_from_cdk_json(tmp_path, flag, groups):
    shutil.copytree(
        REPO / "infra" / "stacks", tmp_path / "infra" / "stacks", ignore=shutil.ignore_patterns("__pycache__")
    )
    document = json.loads((REPO / "infra" / "cdk.json").read_text())
    document["context"]["notify_experimental"] = flag
    (tmp_path / "infra" / "cdk.json").write_text(json.dumps(document))
    assert notify.notified_groups(tmp_path, CONFIG) == groups
