"""The permission replay: what CodeBuild's PromoteStable step runs (buildspec-promote.yaml: `./dev upsert --variant
stable --aws`, then `./dev kpi-check --aws --allow-empty`) runs on the emulator as the role the synthesized cicd
template gives that step, with the template's policies. The calls are those the commands' own code makes (the same
functions the tasks call, on the AWS code path), so the list of calls cannot drift from the code. The emulator
judges each request by the role's policies against the resource it names: one action taken out of the role fails
the command, naming the action and the role.

What the replay does not reach: Athena's own Glue reads on the caller's behalf (moto's Athena reads no catalog),
and SageMaker's steps, which run as the execution role (tests/deploy/test_local.py replays those).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import stack_template
from infra_support import FULL_CONTEXT, REPO
from policies_support import without_action
from projects import copy_project

from localsage.adapters import targets
from localsage.commands.pipelines import upsert
from localsage.deploy.provisioners import Resolver, Unresolvable
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.kpi.check import check
from localsage.operations.pipelines import STEP_IMAGE_OUTPUT

PROMOTION_SID = "UpsertStablePipeline"  # a statement infra/stacks/cicd.py gives the PromoteStable step's role


@dataclass
class Promotion:
    root: Path
    target: object  # the local target (the emulator's own credentials)
    role_name: str
    policies: dict[str, dict]  # as the template gives them, resolved for the emulator's account
    dropped: list[str]  # statements about resources the replay cannot name (CodePipeline's own)

    def as_role(self):
        """A target on the AWS code path, signing as the role (fresh credentials: policies are read per request)."""
        sts = self.target.client("sts")
        arn = self.target.client("iam").get_role(RoleName=self.role_name)["Role"]["Arn"]
        credentials = sts.assume_role(RoleArn=arn, RoleSessionName="codebuild")["Credentials"]
        return targets.as_role(self.target, credentials)

    def put(self, policies: dict[str, dict]) -> None:
        iam = self.target.client("iam")
        for name, document in policies.items():
            iam.put_role_policy(RoleName=self.role_name, PolicyName=name, PolicyDocument=json.dumps(document))

    def pipeline_exists(self, wanted: bool) -> None:
        """The stable pipeline made (by a promotion, as the role) or deleted, so the next upsert creates or updates."""
        sagemaker = self.target.client("sagemaker")
        name = self.target.config.pipeline_name("stable")
        exists = name in [p["PipelineName"] for p in sagemaker.list_pipelines()["PipelineSummaries"]]
        if exists and not wanted:
            sagemaker.delete_pipeline(PipelineName=name)
        elif wanted and not exists:
            self.promote()

    def promote(self) -> None:
        """The two commands of buildspec-promote.yaml, in order."""
        as_role = self.as_role()
        upsert(variant="stable", say=lambda message: None, target=as_role)
        check(self.root, use_aws=True, allow_empty=True, say=lambda message: None, target=as_role)


def promotion_role(template: dict) -> tuple[str, list[str]]:
    """The logical ids of the role whose policy holds PROMOTION_SID, and of every policy attached to it."""
    policies = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Policy"}
    holding = [r for r in policies.values() if PROMOTION_SID in json.dumps(r["Properties"]["PolicyDocument"])]
    ((role_ref,),) = [[role["Ref"] for role in r["Properties"]["Roles"]] for r in holding]
    attached = [lid for lid, r in policies.items() if {"Ref": role_ref} in r["Properties"]["Roles"]]
    return role_ref, attached


def resolved_statements(statements: list[dict], resolver: Resolver, dropped: list[str]) -> list[dict]:
    kept = []
    for statement in statements:
        try:
            kept.append(resolver.resolve(statement))
        except Unresolvable as exc:
            dropped.append(f"{statement.get('Sid', statement['Action'])}: {exc}")
    return kept


@pytest.fixture(scope="module")
def promotion(app_module, local_target, tmp_path_factory) -> Promotion:
    """The repository's project in the emulator's account (the session's emulator), its cicd stack synthesized,
    the PromoteStable role created in the emulator from the template, and what the stacks provide in AWS before the
    step runs (the bucket, the execution role, the ML platform stack's step image output, the Athena workgroup)."""
    root = copy_project(tmp_path_factory.mktemp("replay"), f"replay{uuid.uuid4().hex[:6]}", with_infra=True)
    shutil.copytree(REPO / "docker", root / "docker")
    project_config.write(project_config.with_values(project_config.load(root), account=LOCAL_ACCOUNT_ID), root)
    built = app_module.build(root, context=FULL_CONTEXT, outdir=str(tmp_path_factory.mktemp("replay.out")))
    built.app.synth()
    template = stack_template(built.stacks["cicd"])
    target = targets.local(root, say=lambda message: None)
    config = target.config
    resolver = Resolver(
        LOCAL_ACCOUNT_ID,
        config.region,
        {lid: lid.lower() for lid in template["Resources"]},
        {lid: r["Type"] for lid, r in template["Resources"].items()},
    )
    role_id, policy_ids = promotion_role(template)
    dropped: list[str] = []
    policies = {}
    for lid in policy_ids:
        document = template["Resources"][lid]["Properties"]["PolicyDocument"]
        policies[lid] = {**document, "Statement": resolved_statements(document["Statement"], resolver, dropped)}
    role_name = f"{config.pipeline_base_name}-promote-stable"
    trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    iam = target.client("iam")
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    service = {"Service": "sagemaker.amazonaws.com"}
    sagemaker_trust = {"Statement": [{"Effect": "Allow", "Principal": service, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=config.execution_role_name, AssumeRolePolicyDocument=json.dumps(sagemaker_trust))
    target.ensure_bucket()
    stack_name = config.stack_names["ml-platform"]
    platform = {
        "Resources": {
            "Marker": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": f"/{stack_name}/marker", "Type": "String", "Value": "1"},
            }
        },
        "Outputs": {STEP_IMAGE_OUTPUT: {"Value": f"{LOCAL_ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/step:1"}},
    }
    target.client("cloudformation").create_stack(StackName=stack_name, TemplateBody=json.dumps(platform))
    target.client("athena").create_work_group(Name=config.athena_workgroup)
    promotion = Promotion(root, target, role_name, policies, dropped)
    promotion.put(policies)
    return promotion


@pytest.fixture(scope="module")
def promoted(promotion) -> Promotion:
    """After a first promotion, which created the stable pipeline as the role."""
    assert not any(PROMOTION_SID in entry for entry in promotion.dropped), promotion.dropped
    promotion.promote()
    return promotion


def test_the_promotion_runs_as_the_role_the_template_gives_it(promoted):
    """Every request both commands make is allowed by the template's policies (created, then updated)."""
    promotion = promoted
    promotion.promote()
    sagemaker = promotion.target.client("sagemaker")
    name = promotion.target.config.pipeline_name("stable")
    assert sagemaker.describe_pipeline(PipelineName=name)["RoleArn"].endswith(
        promotion.target.config.execution_role_name
    )


# What the commands call that the role's statements grant. Not here, and why: S3 actions (moto judges S3, and its
# denial does not name the action), sts:GetCallerIdentity (IAM allows it whatever the policy), and what no command
# calls on the emulator: glue:* (Athena reads the catalog itself, which moto's Athena does not),
# athena:GetWorkGroup and sagemaker:ListPipelines.
CREATING = ("sagemaker:CreatePipeline", "sagemaker:AddTags")  # made when the stable pipeline does not exist yet


@pytest.mark.parametrize(
    "action",
    [*CREATING, "sagemaker:UpdatePipeline", "sagemaker:DescribePipeline", "iam:PassRole", "iam:GetRole",
     "cloudformation:DescribeStacks", "athena:StartQueryExecution", "athena:GetQueryExecution"],
)  # fmt: skip
def test_one_action_taken_out_of_the_role_fails_the_promotion_naming_it_and_the_role(promoted, action):
    promotion = promoted
    promotion.pipeline_exists(action not in CREATING)
    promotion.put(without_action(promotion.policies, action))
    try:
        with pytest.raises((ClientError, UserError)) as failed:
            promotion.promote()
    finally:
        promotion.put(promotion.policies)
    message = str(failed.value)
    assert f"not authorized to perform: {action}" in message, message
    assert f"assumed-role/{promotion.role_name}/" in message, message
