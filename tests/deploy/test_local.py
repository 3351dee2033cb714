"""`./dev deploy --local` end to end against the session's emulator (a project of its own, so its stacks, bucket
and rule are nobody else's), then boto3 checks of what exists."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import pytest
from policies_support import without_action
from projects import copy_project

from localsage.adapters import local_events, targets
from localsage.deploy import cdk_cli, local, provisioners
from localsage.facts import config as project_config
from localsage.facts import events as model_events
from localsage.facts import kpi_schema

BASE_NAME = "deployed"


class Deployed(NamedTuple):
    root: Path
    target: object
    first: list[local.StackOutcome]
    second: list[local.StackOutcome]
    messages: list[str]
    outdir: Path


@pytest.fixture(scope="module")
def deployed(local_target, tmp_path_factory) -> Deployed:
    """Two deploys in a row into the same emulator: the second must change nothing.

    Before them, the artefact bucket already holds an object, as after `./dev local-run` on a fresh clone.
    """
    root = copy_project(tmp_path_factory.mktemp("deployed"), BASE_NAME, with_infra=True)
    staged = project_config.with_values(project_config.load(root), account="111111111111")
    stages = (project_config.DeploymentStage("staging", "222222222222"),)
    project_config.write(dataclasses.replace(staged, stages=stages), root)
    target = targets.local(root, say=lambda message: None)
    outdir = tmp_path_factory.mktemp("cdk.out.local")
    messages: list[str] = []
    target.ensure_bucket()
    target.client("s3").put_object(Bucket=target.bucket, Key="before/deploy.txt", Body=b"kept")
    first = local.deploy_local(root, say=messages.append, outdir=outdir)
    second = local.deploy_local(root, say=messages.append, outdir=outdir)
    return Deployed(root, target, first, second, messages, outdir)


@pytest.fixture(scope="module")
def config(deployed):
    return deployed.target.config


def test_cicd_and_the_target_stages_are_not_deployed_locally_and_the_output_says_so(deployed, config):
    first, messages = deployed.first, deployed.messages
    assert config.stack_names["cicd"] not in {outcome.name for outcome in first}
    assert any(f"{config.stack_names['cicd']}: not deployed locally" in message for message in messages)
    assert any(message.startswith("stages staging: not deployed locally") for message in messages)
    assert len(first) == 3, "the tooling account's stacks, once each"


def test_topic_and_rule_with_the_single_sourced_pattern_exist(deployed, config):
    target = deployed.target
    topics = [t["TopicArn"] for t in target.client("sns").list_topics()["Topics"]]
    assert any(arn.endswith(f":{config.sns_topic_name}") for arn in topics)
    events = target.client("events")
    (rule,) = [r for r in events.list_rules()["Rules"] if "ModelPackageStateChange" in r["Name"]]
    notified = local_events.notified_groups(deployed.root, config)  # what infra/cdk.json turns on
    assert json.loads(rule["EventPattern"]) == model_events.model_package_state_change_pattern(notified)
    (rule_target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert rule_target["Arn"].endswith(f":{config.sns_topic_name}")
    assert rule_target["InputTransformer"]["InputTemplate"] == model_events.MESSAGE_TEMPLATE


def test_glue_table_has_the_schema_columns(deployed, config):
    target = deployed.target
    schema = kpi_schema.load_for_project(deployed.root)
    table = target.client("glue").get_table(DatabaseName=config.glue_database, Name=config.kpi_table)["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        (c.name, c.type) for c in schema.columns
    ]
    assert [c["Name"] for c in table["PartitionKeys"]] == [c.name for c in schema.partition_keys]
    assert table["Parameters"]["projection.dt.format"] == "yyyy-MM-dd"


def test_workgroup_named_queries_and_both_model_package_groups_exist(deployed, config):
    target = deployed.target
    athena = target.client("athena")
    workgroup = athena.get_work_group(WorkGroup=config.athena_workgroup)["WorkGroup"]
    assert workgroup["Configuration"]["EnforceWorkGroupConfiguration"] is True
    query_ids = athena.list_named_queries(WorkGroup=config.athena_workgroup)["NamedQueryIds"]
    assert len(query_ids) == len(list((deployed.root / "infra" / "kpi" / "queries").glob("*.sql")))
    sagemaker = target.client("sagemaker")
    for variant in project_config.VARIANTS:
        group = sagemaker.describe_model_package_group(ModelPackageGroupName=config.model_package_group(variant))
        assert group["ModelPackageGroupName"] == config.model_package_group(variant)


def test_the_bucket_stays_usable_over_the_emulators_plain_http(deployed, config):
    """The template's TLS-only Deny stays in AWS; locally it would refuse every request (moto enforces policies)."""
    template = (
        cdk_cli.read_assembly(deployed.outdir)
        .stack(config.stack_names["ml-platform"], project_config.TOOLING_STAGE)
        .template()
    )
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert any(provisioners.requires_tls(s) for s in policies[0]["Properties"]["PolicyDocument"]["Statement"])
    s3 = deployed.target.client("s3")
    s3.put_object(Bucket=deployed.target.bucket, Key="checks/after-deploy.txt", Body=b"ok")
    assert s3.get_object(Bucket=deployed.target.bucket, Key="checks/after-deploy.txt")["Body"].read() == b"ok"


def test_a_bucket_made_before_its_stack_is_adopted_with_its_objects(deployed):
    assert any(f"bucket {deployed.target.bucket} existed before its stack" in m for m in deployed.messages)
    s3 = deployed.target.client("s3")
    assert s3.get_object(Bucket=deployed.target.bucket, Key="before/deploy.txt")["Body"].read() == b"kept"
    assert not [b["Name"] for b in s3.list_buckets()["Buckets"] if "-adopting-" in b["Name"]]


def test_every_resource_is_accounted_for(deployed):
    for outcome in deployed.first:
        assert outcome.not_emulated == [], outcome.name
        assert outcome.count(local.BY_CLOUDFORMATION) + sum(
            outcome.count(kind) for kind in (provisioners.CREATED, provisioners.UPDATED, provisioners.UNCHANGED)
        ) == len(outcome.resources)


def test_second_deploy_changes_nothing(deployed):
    first, second = deployed.first, deployed.second
    assert [outcome.changed for outcome in second] == [False] * len(second)
    assert [sorted(outcome.resources) for outcome in second] == [sorted(outcome.resources) for outcome in first]


def test_a_type_nobody_emulates_is_reported_not_skipped(deployed, tmp_path, config):
    target = deployed.target
    deployed_kpi = cdk_cli.read_assembly(deployed.outdir).stack(config.stack_names["kpi"])
    template = deployed_kpi.template()
    template["Resources"]["KpiDataSet"] = {"Type": "AWS::QuickSight::DataSet", "Properties": {}}
    path = tmp_path / "with-quicksight.template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    types = {**deployed_kpi.resource_types, "KpiDataSet": "AWS::QuickSight::DataSet"}
    outcome = local.provision_stack(target, cdk_cli.StackTemplate(deployed_kpi.name, path, types))
    assert outcome.not_emulated == ["AWS::QuickSight::DataSet KpiDataSet"]
    assert not outcome.changed


def test_jobs_act_as_the_deployed_execution_role_and_a_missing_permission_fails_its_step(deployed, config):
    """With the role `deploy --local` created, the jobs' S3 transfers and processes sign as it: the pipeline passes
    with the stack's policy, fails at Evaluate without s3:PutObject on its output prefix, and passes again."""
    from localsage.commands.local_run import local_run

    messages: list[str] = []
    passed = local_run(root=deployed.root, say=messages.append, quiet=True)
    assert passed.status == "Succeeded", passed.failure
    assert not any("permissions are not checked" in message for message in messages)
    outputs = passed.steps["Evaluate"].arguments["ProcessingOutputConfig"]["Outputs"]
    (evaluation,) = [output["S3Output"]["S3Uri"] for output in outputs if output["OutputName"] == "evaluation"]
    prefix = evaluation.removeprefix("s3://")  # fixed per pipeline (ml/pipeline.py), so the next run writes there
    denied = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{prefix}/*"}],
    }
    iam = deployed.target.client("iam")
    iam.put_role_policy(
        RoleName=config.execution_role_name, PolicyName="no-evaluation", PolicyDocument=json.dumps(denied)
    )
    try:
        refused = local_run(root=deployed.root, say=messages.append, quiet=True)
    finally:
        iam.delete_role_policy(RoleName=config.execution_role_name, PolicyName="no-evaluation")
    assert refused.status == "Failed"
    assert refused.steps["Evaluate"].status == "Failed" and "AccessDenied" in refused.steps["Evaluate"].failure
    assert local_run(root=deployed.root, say=messages.append, quiet=True).status == "Succeeded"


# iam:PassRole: every step that passes the role to SageMaker and is not taken from the cache.
@pytest.mark.parametrize(
    ("action", "steps"),
    [("sagemaker:CreateModelPackage", ("RegisterModel",)),
     ("iam:PassRole", ("Preprocess", "Train", "Evaluate", "CreateModel"))],
)  # fmt: skip
def test_a_request_the_pipelines_role_may_not_make_fails_its_step_naming_the_action_and_the_role(
    deployed, config, action, steps
):
    """SageMaker makes each step's request as the pipeline's role. With one action taken out of the policy the stack
    gave the role, the step that needs it fails before it runs, naming the action, the resource and the role (with
    the stack's policy as it is, every step's request is allowed: the test above)."""
    from localsage.commands.local_run import local_run

    iam = deployed.target.client("iam")
    role = config.execution_role_name
    documents = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    for name, document in without_action(documents, action).items():
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    try:
        refused = local_run(root=deployed.root, say=lambda message: None, quiet=True)
    finally:
        for name, document in documents.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    assert refused.status == "Failed"
    failed = {name: record.failure for name, record in refused.steps.items() if record.status == "Failed"}
    assert failed and all(name.startswith(steps) for name in failed), failed
    for failure in failed.values():
        assert f"is not authorized to perform: {action} on resource: arn:aws:" in failure, failure
        assert f"role/{role}" in failure


def test_the_rules_message_is_published_as_the_rules_role_and_a_missing_publish_is_said(deployed, config):
    """EventBridge publishes to the topic as the role the rule's target names: with the stack's policy the message
    is delivered; without sns:Publish nothing is, the registration stands, and one line names the action and the
    role."""
    target = deployed.target
    sagemaker = target.client("sagemaker")

    def registered() -> str:
        return sagemaker.create_model_package(
            ModelPackageGroupName=config.model_package_group("stable"),
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": "image:latest", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]

    events = target.client("events")
    (rule,) = [r["Name"] for r in events.list_rules()["Rules"] if "ModelPackageStateChange" in r["Name"]]
    (rule_target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    role = rule_target["RoleArn"].rsplit("/", 1)[-1]
    iam = target.client("iam")
    documents = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    messages: list[str] = []
    assert target.model_package_changed(registered(), say=messages.append) is not None, messages
    for name, document in without_action(documents, "sns:Publish").items():
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    try:
        arn = registered()
        assert target.model_package_changed(arn, say=messages.append) is None
    finally:
        for name, document in documents.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
    (said,) = [message for message in messages if "could not deliver" in message]
    assert f"assumed-role/{role}/" in said and "not authorized to perform: sns:Publish" in said, said
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"
