"""Upsert, start, the model registry tasks and local notifications, against the session's real emulator.

These tests use the stable variant: the runner tests count the experimental group's versions, and the
notifications rule covers stable whatever infra/cdk.json says.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from localsage import config as project_config
from localsage import notify, pipelines, registry
from localsage.errors import UserError
from localsage.runner.definition import DefinitionError
from localsage.runner.local_run import project_definition

VARIANT = "stable"
CONFIG = project_config.load(REPO)
GROUP = CONFIG.model_package_group(VARIANT)


def quiet(message: str) -> None:
    """Progress lines are not what these tests check."""


@pytest.fixture(scope="module")
def two_pending(local_target):
    """Two local starts of the stable pipeline: two new PendingManualApproval versions, newest last."""
    first = pipelines.start(VARIANT, root=REPO, say=quiet)
    second = pipelines.start(VARIANT, root=REPO, say=quiet)
    assert (first.record.status, second.record.status) == ("Succeeded", "Succeeded")
    return [first.record.summary()["model_package_version"], second.record.summary()["model_package_version"]]


def stable_messages() -> list[str]:
    return [m["message"] for m in notify.notifications(REPO, say=quiet) if f"group {GROUP}:" in m["message"]]


def test_upsert_twice_gives_the_same_arn_with_the_definition_inline(local_target):
    first = pipelines.upsert(VARIANT, root=REPO, say=quiet)
    second = pipelines.upsert(VARIANT, root=REPO, say=quiet)
    assert first.pipeline_arn == second.pipeline_arn and first.pipeline_arn.endswith(":pipeline/abalone-stable")
    assert not second.created
    sagemaker = local_target.client("sagemaker")
    described = sagemaker.describe_pipeline(PipelineName=CONFIG.pipeline_name(VARIANT))
    assert json.loads(described["PipelineDefinition"]) == project_definition(local_target, VARIANT, quiet)
    assert described["RoleArn"] == CONFIG.execution_role_arn(local_target.account)
    tags = sagemaker.list_tags(ResourceArn=first.pipeline_arn)["Tags"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == CONFIG.tags


def test_local_and_aws_at_once_is_refused():
    with pytest.raises(UserError, match="--local and --aws exclude each other"):
        pipelines.upsert(VARIANT, use_aws=True, local=True, root=REPO, say=quiet)


def test_start_locally_registers_pending_versions(two_pending):
    first, second = two_pending
    assert second == first + 1


@pytest.mark.parametrize(
    ("param", "problem"),
    [("Bogus=1", "unknown parameter Bogus"), ("RmseThreshold=high", "RmseThreshold")],
)
def test_a_bad_param_is_rejected_before_anything_runs_listing_the_parameters(two_pending, local_target, param, problem):
    before = registry.list_versions(VARIANT, root=REPO, say=quiet)
    with pytest.raises(DefinitionError, match=problem) as raised:
        pipelines.start(VARIANT, [param], root=REPO, say=quiet)
    assert "parameters: InputData (String" in str(raised.value) and "RmseThreshold (Float" in str(raised.value)
    assert len(registry.list_versions(VARIANT, root=REPO, say=quiet)) == len(before)


def test_the_deployed_definition_checks_parameters_for_an_aws_start(local_target):
    definition = project_definition(local_target, VARIANT, quiet)
    assert pipelines.check_parameters(definition, {"RmseThreshold": "2.5"})["RmseThreshold"] == 2.5
    with pytest.raises(DefinitionError, match="unknown parameter Threshold; parameters: InputData"):
        pipelines.check_parameters(definition, {"Threshold": "2.5"})


def test_models_lists_newest_first_with_rmse(two_pending):
    versions = registry.list_versions(VARIANT, root=REPO, say=quiet)
    numbers = [version.version for version in versions]
    assert numbers == sorted(numbers, reverse=True) and set(two_pending) <= set(numbers)
    newest = versions[0]
    assert newest.version == two_pending[1] and newest.approval_status == "PendingManualApproval"
    assert 0 < newest.rmse < 3.0 and newest.metrics_uri.endswith("/evaluation.json")


def test_approve_defaults_to_the_newest_pending_version_and_notifies_once(two_pending):
    approved = registry.set_approval(
        registry.APPROVED, VARIANT, reason="rmse below the stable bar", root=REPO, say=quiet
    )
    assert (approved.version, approved.approval_status) == (two_pending[1], "Approved")
    assert approved.approval_description == "rmse below the stable bar"
    messages = stable_messages()
    for version in two_pending:
        registered = [m for m in messages if f"version {version} is now PendingManualApproval" in m]
        assert len(registered) == 1, messages
    (approval,) = [m for m in messages if "is now Approved" in m]
    assert f"group {GROUP}: version {two_pending[1]} is now Approved" in approval
    assert approved.metrics_uri in approval and approved.arn in approval


def test_approving_an_approved_a_missing_or_the_other_variants_version_fails_in_one_line(two_pending):
    newest = str(two_pending[1])
    with pytest.raises(UserError, match=f"{GROUP} version {newest} is already Approved"):
        registry.set_approval(registry.APPROVED, VARIANT, version=newest, root=REPO, say=quiet)
    with pytest.raises(UserError, match=f"{GROUP} has no version 999 \\(its versions: 1, "):
        registry.set_approval(registry.APPROVED, VARIANT, version="999", root=REPO, say=quiet)
    other = CONFIG.model_package_group("experimental")
    foreign = f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{other}/1"
    with pytest.raises(UserError, match=f"belongs to {other}, not {GROUP}: pass --variant experimental"):
        registry.set_approval(registry.APPROVED, VARIANT, version=foreign, root=REPO, say=quiet)


def test_reject_stores_the_reason_and_sends_no_message(two_pending):
    before = stable_messages()
    rejected = registry.set_approval(
        registry.REJECTED, VARIANT, version=str(two_pending[0]), reason="worse than v2", root=REPO, say=quiet
    )
    assert (rejected.approval_status, rejected.approval_description) == ("Rejected", "worse than v2")
    assert stable_messages() == before


def test_approve_with_nothing_pending_says_so(two_pending):
    for version in registry.list_versions(VARIANT, root=REPO, say=quiet):
        if version.approval_status == "PendingManualApproval":
            registry.set_approval(registry.REJECTED, VARIANT, version=str(version.version), root=REPO, say=quiet)
    with pytest.raises(UserError, match=f"no model in {GROUP} awaits approval .*pass --version"):
        registry.set_approval(registry.APPROVED, VARIANT, root=REPO, say=quiet)


def test_a_retried_delivery_publishes_nothing_new(two_pending, local_target):
    (approved,) = [v for v in registry.list_versions(VARIANT, root=REPO, say=quiet) if v.approval_status == "Approved"]
    arn = approved.arn
    before = stable_messages()
    again = notify.model_package_changed(arn, root=REPO, say=quiet)
    assert again.already_delivered and again.status == "Approved"
    assert stable_messages() == before


def test_the_bus_gets_the_event_once_even_when_a_rule_targets_sns(two_pending, local_target):
    """moto answers 500 for the SNS target after the queue target got the event; no retry may deliver it again."""
    session = local_target.session()
    events, sqs = session.client("events"), session.client("sqs")
    queue_url = sqs.create_queue(QueueName="promotion-test-bus-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.sagemaker"], "detail": {"ModelPackageGroupName": [GROUP]}}
    events.put_rule(Name="promotion-test-copy", EventPattern=json.dumps(pattern))
    topic_arn = notify.ensure_topic(session, CONFIG)
    events.put_targets(
        Rule="promotion-test-copy", Targets=[{"Id": "queue", "Arn": queue_arn}, {"Id": "topic", "Arn": topic_arn}]
    )
    try:
        rejected = registry.set_approval(
            registry.REJECTED,
            VARIANT,
            version=registry.list_versions(VARIANT, root=REPO, say=quiet)[0].arn,
            reason="bus check",
            root=REPO,
            say=quiet,
        )
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    finally:
        events.remove_targets(Rule="promotion-test-copy", Ids=["queue", "topic"])
        events.delete_rule(Name="promotion-test-copy")
    (only,) = received
    event = json.loads(only["Body"])
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Model Package State Change")
    assert event["detail"]["ModelPackageArn"] == rejected.arn and event["detail"]["ModelApprovalStatus"] == "Rejected"
    assert event["detail"]["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == rejected.metrics_uri


def test_notifications_with_no_subscriber_say_so_and_the_next_delivery_subscribes(two_pending, local_target):
    sns = local_target.client("sns")
    topic_arn = notify.ensure_topic(local_target.session(), CONFIG)
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    with pytest.raises(UserError, match=f"topic {CONFIG.sns_topic_name} has no local inbox subscriber"):
        notify.notifications(REPO, say=quiet)
    notify.ensure_topic(local_target.session(), CONFIG)
    assert any("is now Approved" in message for message in stable_messages())
