"""IAM SimulatePrincipalPolicy in the emulator, asked with boto3 and the AWS CLI: a role's policies judged against
each resource ARN, an explicit Deny over an Allow, condition values from the context, and clear refusals of what is
not simulated."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError
from clients_support import aws_cli, cli_environment

from localsage.facts import permissions
from localsage.runner.steps.registry import step_types

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
JOBS = "arn:aws:sagemaker:us-east-1:000000000000:training-job/pipelines-*"
WHERE = ("us-east-1", "000000000000")
LOOKUPS = permissions.Lookups(
    workgroup_of=lambda query: None,
    stack_arn_of=lambda name: None,
    role_arn_of=lambda name: f"arn:aws:iam::0:role/service/{name}",
)


@pytest.fixture(scope="module")
def role(local_target) -> str:
    """A role that may create pipeline training jobs (not one named `pipelines-forbidden`) and pass itself to
    SageMaker only."""
    name = f"simulated-{uuid.uuid4().hex[:8]}"
    iam = local_target.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sagemaker:CreateTrainingJob"], "Resource": JOBS},
            {"Effect": "Deny", "Action": ["sagemaker:CreateTrainingJob"], "Resource": JOBS.replace("*", "forbidden")},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn,
             "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        ],
    }  # fmt: skip
    iam.put_role_policy(RoleName=name, PolicyName="steps", PolicyDocument=json.dumps(policy))
    return arn


def decisions(local_target, role: str, actions: list[str], resources: list[str], **extra) -> list[tuple]:
    answer = local_target.client("iam").simulate_principal_policy(
        PolicySourceArn=role, ActionNames=actions, ResourceArns=resources, **extra
    )
    assert answer["IsTruncated"] is False
    return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in answer["EvaluationResults"]]


def test_each_action_and_resource_gets_its_own_decision(local_target, role):
    allowed = JOBS.replace("*", "abc-train")
    elsewhere = "arn:aws:sagemaker:us-east-1:000000000000:training-job/mine"
    actions = ["sagemaker:CreateTrainingJob", "sagemaker:CreateModel"]
    assert decisions(local_target, role, actions, [allowed, elsewhere]) == [
        ("sagemaker:CreateTrainingJob", allowed, "allowed"),
        ("sagemaker:CreateTrainingJob", elsewhere, "implicitDeny"),
        ("sagemaker:CreateModel", allowed, "implicitDeny"),
        ("sagemaker:CreateModel", elsewhere, "implicitDeny"),
    ]  # fmt: skip


def test_an_explicit_deny_wins_over_an_allow(local_target, role):
    forbidden = JOBS.replace("*", "forbidden")
    assert decisions(local_target, role, ["sagemaker:CreateTrainingJob"], [forbidden])[0][2] == "explicitDeny"


def test_pass_role_is_judged_with_the_service_the_context_names(local_target, role):
    def passed_to(service: str) -> str:
        context = [{"ContextKeyName": "iam:PassedToService", "ContextKeyValues": [service], "ContextKeyType": "string"}]
        return decisions(local_target, role, ["iam:PassRole"], [role], ContextEntries=context)[0][2]

    assert passed_to("sagemaker.amazonaws.com") == "allowed"
    assert passed_to("lambda.amazonaws.com") == "implicitDeny"  # the Allow does not apply; nothing denies it
    assert decisions(local_target, role, ["iam:PassRole"], [role])[0][2] == "implicitDeny", "no service given"


def test_iam_semantics_moto_alone_gets_wrong(local_target):
    """Each statement on its own (two conditional Allows), NotResource, and actions whatever their case."""
    name = f"semantics-{uuid.uuid4().hex[:8]}"
    iam = local_target.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    bucket = "arn:aws:s3:::semantics"
    statements = [
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn,
         "Condition": {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": arn,
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "S3:GetObject", "Resource": f"{bucket}/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": f"{bucket}/public/*"},
    ]  # fmt: skip
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_role_policy(RoleName=name, PolicyName="semantics", PolicyDocument=document)
    context = [{"ContextKeyName": "iam:PassedToService", "ContextKeyValues": ["sagemaker.amazonaws.com"],
                "ContextKeyType": "string"}]  # fmt: skip
    assert decisions(local_target, arn, ["iam:PassRole"], [arn], ContextEntries=context)[0][2] == "allowed"
    assert decisions(local_target, arn, ["s3:GetObject"], [f"{bucket}/public/a", f"{bucket}/private/a"]) == [
        ("s3:GetObject", f"{bucket}/public/a", "allowed"),
        ("s3:GetObject", f"{bucket}/private/a", "explicitDeny"),
    ]


def test_the_aws_cli_gets_the_same_answer(local_target, role):
    run = subprocess.run(
        [aws_cli(), "iam", "simulate-principal-policy", "--policy-source-arn", role, "--action-names",
         "sagemaker:CreateTrainingJob", "--resource-arns", JOBS.replace("*", "cli"), "--output", "json"],
        env=cli_environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [r["EvalDecision"] for r in json.loads(run.stdout)["EvaluationResults"]] == ["allowed"]


def test_an_unknown_role_and_what_is_not_simulated_are_refused_in_one_line(local_target, role):
    iam = local_target.client("iam")
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.simulate_principal_policy(PolicySourceArn=role + "-gone", ActionNames=["s3:GetObject"])
    with pytest.raises(ClientError, match="does not simulate ResourcePolicy"):
        iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"], ResourcePolicy="{}")
    user = "arn:aws:iam::000000000000:user/someone"
    with pytest.raises(ClientError, match="roles' policies only"):
        iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["s3:GetObject"])


def test_every_step_types_request_has_a_resource_rule():
    """The runner asks for each step's create request: a new step type without a rule fails here, not at a run."""
    operations = {t.create_operation for t in step_types().values() if t.create_operation}
    assert operations <= set(permissions.CREATED_RESOURCES), operations - set(permissions.CREATED_RESOURCES)


def test_a_request_needs_its_action_on_its_resource_and_pass_role_for_sagemaker():
    """Tag-on-create needs sagemaker:AddTags; a tuning job passes its training jobs' roles."""
    request = {"ModelName": "Pipelines-ABC", "ExecutionRoleArn": "arn:aws:iam::000000000000:role/r"}
    assert permissions.needed("CreateModel", request, "us-east-1", "000000000000") == [
        permissions.Permission("sagemaker:CreateModel", "arn:aws:sagemaker:us-east-1:000000000000:model/pipelines-abc"),
        permissions.Permission("iam:PassRole", "arn:aws:iam::000000000000:role/r",
                               {"iam:PassedToService": "sagemaker.amazonaws.com"}),
    ]  # fmt: skip
    group = "arn:aws:sagemaker:us-east-1:000000000000:model-package-group/Models"
    (version,) = permissions.needed("CreateModelPackage", {"ModelPackageGroupName": group}, "us-east-1", "0" * 12)
    assert version.resource == "arn:aws:sagemaker:us-east-1:000000000000:model-package/models/*"
    with pytest.raises(KeyError, match="no resource rule for sagemaker:CreateAlgorithm"):
        permissions.needed("CreateAlgorithm", {}, "us-east-1", "000000000000")
    tagged = permissions.needed("CreatePipeline", {"PipelineName": "p", "Tags": [{"Key": "k", "Value": "v"}]}, *WHERE)
    assert [p.action for p in tagged] == ["sagemaker:CreatePipeline", "sagemaker:AddTags"]
    tuning = {"HyperParameterTuningJobName": "t", "TrainingJobDefinitions": [{"RoleArn": "arn:aws:iam::0:role/a"}],
              "TrainingJobDefinition": {"RoleArn": "arn:aws:iam::0:role/b"}}  # fmt: skip
    passed = [p.resource for p in permissions.needed("CreateHyperParameterTuningJob", tuning, *WHERE)[1:]]
    assert sorted(passed) == ["arn:aws:iam::0:role/a", "arn:aws:iam::0:role/b"]


def test_every_service_names_the_resources_iam_evaluates():
    def resources(service: str, operation: str, request: dict) -> list[tuple[str, str]]:
        found = permissions.request_permissions(service, operation, request, *WHERE, LOOKUPS)
        return [(p.action, p.resource) for p in found]

    prefix = "arn:aws:sagemaker:us-east-1:000000000000"
    steps = f"{prefix}:pipeline/p/execution/e"
    assert resources("sagemaker", "ListPipelineExecutionSteps", {"PipelineExecutionArn": steps}) == [
        ("sagemaker:ListPipelineExecutionSteps", steps)
    ]
    assert resources("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "g"})[0][1] == "*"
    glue = "arn:aws:glue:us-east-1:000000000000"
    assert [r for _, r in resources("glue", "CreateTable", {"DatabaseName": "d", "TableInput": {"Name": "t"}})] == [
        f"{glue}:catalog", f"{glue}:database/d", f"{glue}:table/d/t"
    ]  # fmt: skip
    new_stack = "arn:aws:cloudformation:us-east-1:000000000000:stack/new/*"
    assert resources("cloudformation", "CreateStack", {"StackName": "new"}) == [
        ("cloudformation:CreateStack", new_stack)
    ]
    assert resources("iam", "GetRole", {"RoleName": "r"}) == [("iam:GetRole", "arn:aws:iam::0:role/service/r")]
    assert resources("sns", "PublishBatch", {"TopicArn": "arn:t"}) == [("sns:Publish", "arn:t")]
    assert resources("athena", "CreateWorkGroup", {"Name": "w"})[0][1].endswith(":workgroup/w")
    assert resources("sagemaker", "CreateModelPackage", {})[0] == ("sagemaker:CreateModelPackage", "*"), "malformed"
