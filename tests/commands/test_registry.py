"""Upsert, start and the model registry commands (models, approve, reject, notifications) on a project of their own
in the session's emulator. Each test registers the versions it works on, so no test depends on another's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from conftest import REPO
from projects import copy_project

from localsage.adapters import local_events, targets
from localsage.commands import pipelines as pipeline_commands
from localsage.commands import registry as registry_commands
from localsage.errors import UserError
from localsage.facts.model_registry import ApprovalStatus
from localsage.project.definitions import project_definition
from localsage.runner.definition import DefinitionError

VARIANT = "stable"
INVOKE = str(Path(sys.executable).with_name("invoke"))
RMSE = 2.5


def quiet(message: str) -> None:
    """Progress lines are not what these tests check."""


@pytest.fixture(scope="module")
def project(local_target, tmp_path_factory):
    """A project named "registry": its stable pipeline upserted (the quality gate names the metric) and an
    evaluation report in its bucket for the versions the tests register."""
    root = copy_project(tmp_path_factory.mktemp("registry"), "registry")
    pipeline_commands.upsert(VARIANT, root=root, say=quiet)
    target = targets.local(root, say=quiet)
    report_key = "tests/registry/evaluation.json"  # not where the pipeline writes its own reports
    target.client("s3").put_object(
        Bucket=target.bucket, Key=report_key, Body=json.dumps({"regression_metrics": {"rmse": {"value": RMSE}}})
    )
    group = target.config.model_package_group(VARIANT)
    target.client("sagemaker").create_model_package_group(ModelPackageGroupName=group)
    return SimpleNamespace(root=root, target=target, group=group, report=f"s3://{target.bucket}/{report_key}")


def register(project, approval: str = "PendingManualApproval") -> tuple[int, str]:
    """A new version in the group, notified as the RegisterModel step does: (its number, its ARN)."""
    sagemaker = project.target.client("sagemaker")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=project.group,
        ModelApprovalStatus=approval,
        InferenceSpecification={
            "Containers": [{"Image": "image:latest", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": project.report}}},
    )["ModelPackageArn"]
    project.target.model_package_changed(arn, say=quiet)
    return sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"], arn


def messages_about(project, arn: str) -> list[str]:
    return [
        message["message"]
        for message in registry_commands.notifications(project.root, say=quiet)
        if message["message"].endswith(f"Package: {arn}")
    ]


def test_upsert_twice_gives_the_same_arn_with_the_definition_inline(project):
    first = pipeline_commands.upsert(VARIANT, root=project.root, say=quiet)
    second = pipeline_commands.upsert(VARIANT, root=project.root, say=quiet)
    assert first.pipeline_arn == second.pipeline_arn and first.pipeline_arn.endswith(":pipeline/registry-stable")
    assert not second.created
    sagemaker = project.target.client("sagemaker")
    described = sagemaker.describe_pipeline(PipelineName="registry-stable")
    assert json.loads(described["PipelineDefinition"]) == project_definition(project.target, VARIANT, quiet)
    assert described["RoleArn"] == project.target.config.execution_role_arn(project.target.account)
    tags = sagemaker.list_tags(ResourceArn=first.pipeline_arn)["Tags"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == project.target.config.tags


def test_local_and_aws_at_once_is_refused(project):
    with pytest.raises(UserError, match="--local and --aws exclude each other"):
        pipeline_commands.upsert(VARIANT, use_aws=True, local=True, root=project.root, say=quiet)


def test_start_locally_runs_the_pipeline_and_registers_a_pending_version(project):
    before = registry_commands.models(VARIANT, root=project.root, say=quiet)
    record = pipeline_commands.start(VARIANT, root=project.root, say=quiet)
    assert record.status == "Succeeded"
    newest = registry_commands.models(VARIANT, root=project.root, say=quiet)[0]
    assert newest.arn == record.summary()["model_package_arn"]
    assert len(registry_commands.models(VARIANT, root=project.root, say=quiet)) == len(before) + 1
    assert newest.approval_status == "PendingManualApproval" and newest.metric_name == "rmse"
    assert 0 < newest.metric < 3.0


@pytest.mark.parametrize(
    ("param", "problem"),
    [("Bogus", "unknown parameter Bogus"), ("RmseThreshold", "RmseThreshold")],
)
def test_a_bad_param_is_rejected_before_anything_runs_listing_the_parameters(project, param, problem):
    before = registry_commands.models(VARIANT, root=project.root, say=quiet)
    with pytest.raises(DefinitionError, match=problem) as raised:
        pipeline_commands.start(VARIANT, {param: "high"}, root=project.root, say=quiet)
    assert "parameters: InputData (String" in str(raised.value) and "RmseThreshold (Float" in str(raised.value)
    assert registry_commands.models(VARIANT, root=project.root, say=quiet) == before


def test_models_lists_newest_first_with_the_gates_metric(project):
    first, _ = register(project)
    second, _ = register(project)
    versions = registry_commands.models(VARIANT, root=project.root, say=quiet)
    numbers = [version.version for version in versions]
    assert numbers == sorted(numbers, reverse=True) and {first, second} <= set(numbers)
    newest = next(version for version in versions if version.version == second)
    assert (newest.metric_name, newest.metric) == ("rmse", RMSE) and newest.metrics_uri == project.report


def test_approve_defaults_to_the_newest_pending_version_and_notifies_once(project):
    version, arn = register(project)
    approved = registry_commands.set_approval(
        ApprovalStatus.APPROVED, VARIANT, reason="rmse below the stable bar", root=project.root, say=quiet
    )
    assert (approved.version, approved.approval_status) == (version, "Approved")
    assert approved.approval_description == "rmse below the stable bar"
    registered, approval = messages_about(project, arn)
    assert f"group {project.group}: version {version} is now PendingManualApproval" in registered
    assert f"group {project.group}: version {version} is now Approved" in approval
    assert project.report in approval


def test_approving_an_approved_a_missing_or_the_other_variants_version_fails_in_one_line(project):
    version, _ = register(project, approval="Approved")
    with pytest.raises(UserError, match=f"{project.group} version {version} is already Approved"):
        registry_commands.set_approval(ApprovalStatus.APPROVED, VARIANT, version=str(version), root=project.root)
    with pytest.raises(UserError, match=f"{project.group} has no version 999 \\(its versions: 1, "):
        registry_commands.set_approval(ApprovalStatus.APPROVED, VARIANT, version="999", root=project.root)
    other = project.target.config.model_package_group("experimental")
    foreign = f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{other}/1"
    with pytest.raises(UserError, match=f"belongs to {other}, not {project.group}: pass --variant experimental"):
        registry_commands.set_approval(ApprovalStatus.APPROVED, VARIANT, version=foreign, root=project.root)


def test_reject_stores_the_reason_and_sends_no_message(project):
    version, arn = register(project)
    rejected = registry_commands.set_approval(
        ApprovalStatus.REJECTED, VARIANT, version=str(version), reason="worse than before", root=project.root, say=quiet
    )
    assert (rejected.approval_status, rejected.approval_description) == ("Rejected", "worse than before")
    assert [message for message in messages_about(project, arn) if "Rejected" in message] == []


def test_approve_with_nothing_pending_says_so(project):
    register(project)
    for version in registry_commands.models(VARIANT, root=project.root, say=quiet):
        if version.approval_status == "PendingManualApproval":
            registry_commands.set_approval(
                ApprovalStatus.REJECTED, VARIANT, version=str(version.version), reason="clearing", root=project.root
            )
    with pytest.raises(UserError, match=f"no model in {project.group} awaits approval .*pass --version"):
        registry_commands.set_approval(ApprovalStatus.APPROVED, VARIANT, root=project.root, say=quiet)


def test_a_retried_delivery_publishes_nothing_new(project):
    version, arn = register(project)
    registry_commands.set_approval(ApprovalStatus.APPROVED, VARIANT, version=str(version), root=project.root)
    before = messages_about(project, arn)
    again = project.target.model_package_changed(arn, say=quiet)
    assert again.already_delivered and again.status == "Approved"
    assert messages_about(project, arn) == before


def test_the_bus_gets_the_event_once_even_when_a_rule_targets_sns(project):
    """moto answers 500 for the SNS target after the queue target got the event; no retry may deliver it again."""
    version, _ = register(project)
    session = project.target.session()
    events, sqs = session.client("events"), session.client("sqs")
    queue_url = sqs.create_queue(QueueName="registry-test-bus-copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aws.sagemaker"], "detail": {"ModelPackageGroupName": [project.group]}}
    events.put_rule(Name="registry-test-copy", EventPattern=json.dumps(pattern))
    topic_arn = local_events.ensure_topic(project.target)
    events.put_targets(
        Rule="registry-test-copy", Targets=[{"Id": "queue", "Arn": queue_arn}, {"Id": "topic", "Arn": topic_arn}]
    )
    try:
        rejected = registry_commands.set_approval(
            ApprovalStatus.REJECTED, VARIANT, version=str(version), reason="bus check", root=project.root, say=quiet
        )
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    finally:
        events.remove_targets(Rule="registry-test-copy", Ids=["queue", "topic"])
        events.delete_rule(Name="registry-test-copy")
    (only,) = received
    event = json.loads(only["Body"])
    assert (event["source"], event["detail-type"]) == ("aws.sagemaker", "SageMaker Model Package State Change")
    assert event["detail"]["ModelPackageArn"] == rejected.arn and event["detail"]["ModelApprovalStatus"] == "Rejected"
    assert event["detail"]["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == rejected.metrics_uri


def test_notifications_with_no_subscriber_say_so_and_the_next_delivery_subscribes(project):
    _, arn = register(project)
    sns = project.target.client("sns")
    topic_arn = local_events.ensure_topic(project.target)
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    with pytest.raises(UserError, match=f"topic {project.target.config.sns_topic_name} has no local inbox subscriber"):
        registry_commands.notifications(project.root, say=quiet)
    local_events.ensure_topic(project.target)
    assert len(messages_about(project, arn)) == 1


def test_notifications_show_the_metric_of_the_report_they_name(project):
    _, arn = register(project)
    (message,) = [m for m in registry_commands.notifications(project.root, say=quiet) if m["message"].endswith(arn)]
    assert (message["metric_name"], message["metric"]) == ("rmse", RMSE)


def test_a_dry_run_upsert_prints_the_exact_request_and_changes_nothing(local_target, tmp_path):
    root = copy_project(tmp_path / "project", "dryrun")
    target = targets.local(root, say=quiet)
    environment = {**os.environ, "LOCALSAGE_ROOT": str(root)}
    completed = subprocess.run(
        [INVOKE, "upsert", "--dry-run"], cwd=REPO, env=environment, capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    assert printed["Operation"] == "CreatePipeline" and printed["Request"]["PipelineName"] == "dryrun-experimental"
    sagemaker = target.client("sagemaker")
    assert sagemaker.list_pipelines(PipelineNamePrefix="dryrun")["PipelineSummaries"] == []
    with pytest.raises(ClientError):  # nothing uploaded: not even the bucket was created
        target.client("s3").head_bucket(Bucket=target.bucket)
    upserted = pipeline_commands.upsert(root=root, say=quiet)
    described = sagemaker.describe_pipeline(PipelineName="dryrun-experimental")
    assert described["PipelineDefinition"] == printed["Request"]["PipelineDefinition"], "the request is exact"
    assert upserted.call.request == printed["Request"]


def test_a_sagemaker_projects_tags_are_on_its_pipeline_and_model_package_groups(local_target, tmp_path):
    from localsage.facts import config as project_config

    root = copy_project(tmp_path / "project", "studio")
    chosen = project_config.with_values(
        project_config.load(root), sagemaker_project_name="studio-team", sagemaker_project_id="p-0123456789ab"
    )
    project_config.write(chosen, root)
    upserted = pipeline_commands.upsert(root=root, say=quiet)
    sagemaker = targets.local(root, say=quiet).client("sagemaker")
    studio = {"sagemaker:project-name": "studio-team", "sagemaker:project-id": "p-0123456789ab"}
    pipeline_tags = {tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=upserted.pipeline_arn)["Tags"]}
    assert studio.items() <= pipeline_tags.items()
    group = sagemaker.describe_model_package_group(ModelPackageGroupName="studio-experimental-models")
    group_tags = {
        tag["Key"]: tag["Value"] for tag in sagemaker.list_tags(ResourceArn=group["ModelPackageGroupArn"])["Tags"]
    }
    assert studio.items() <= group_tags.items()
