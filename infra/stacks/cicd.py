"""CI/CD: a CodePipeline (source from a CodeStar connection or CodeCommit) and one CodeBuild project.

The build runs buildspec.yaml (repository root), whose commands are `./dev` tasks; its role may assume the CDK
bootstrap roles (which do the deploying) and upsert the stable pipeline, nothing more.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from localsage.facts.cdk_context import BOOTSTRAP_QUALIFIER as CDK_BOOTSTRAP_QUALIFIER
from localsage.facts.cdk_context import SourceSettings
from localsage.facts.config import ProjectConfig
from stacks import nag

BUILDSPEC = "buildspec.yaml"
# The qualifier of the default `cdk bootstrap`; its roles are cdk-<qualifier>-<purpose>-role-<account>-<region>.


def connection_service(connection_arn: str) -> str:
    """The service prefix of a connection ARN: codestar-connections, or codeconnections since the rename."""
    return connection_arn.split(":")[2]


class CicdStack(cdk.Stack):
    """Source -> one CodeBuild action that tests, checks KPIs, upserts the stable pipeline and deploys."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ProjectConfig,
        source: SourceSettings,
        bucket_name: str,
        builds_image: bool,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.source_role: iam.Role | None = None
        artifacts = s3.Bucket(
            self,
            "PipelineArtifacts",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=False,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(30))],
        )
        nag.acknowledge(artifacts, "S1", "Holds only short-lived pipeline hand-over artefacts, expired after 30 days.")
        source_output = codepipeline.Artifact("Source")
        self.project = codebuild.PipelineProject(
            self,
            "Build",
            project_name=f"{config.pipeline_base_name}-build",
            description="./dev test, kpi-check, stable pipeline upsert, stack deploy",
            build_spec=codebuild.BuildSpec.from_source_filename(BUILDSPEC),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.MEDIUM,
                privileged=builds_image,
            ),
            environment_variables={
                "LOCALSAGE_STACKS": codebuild.BuildEnvironmentVariable(
                    value=",".join(name for part, name in config.stack_names.items() if part != "cicd")
                )
            },
            timeout=cdk.Duration.minutes(60),
        )
        self._grant_build_permissions(config, bucket_name)
        nag.acknowledge(
            self.project,
            "CB4",
            "Build artefacts go to the pipeline bucket, which is encrypted (SSE-S3) and TLS-only; no KMS key needed.",
        )
        if builds_image:
            nag.acknowledge(self.project, "CB3", "Privileged mode builds the step image from docker/ (a Docker asset).")
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=f"{config.pipeline_base_name}-cicd",
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=artifacts,
            restart_execution_on_update=True,
            stages=[
                codepipeline.StageProps(stage_name="Source", actions=[self._source_action(source, source_output)]),
                codepipeline.StageProps(
                    stage_name="Build",
                    actions=[
                        actions.CodeBuildAction(action_name="TestAndDeploy", project=self.project, input=source_output)
                    ],
                ),
            ],
        )
        self._acknowledge_generated_grants(artifacts)

    def _source_action(self, source: SourceSettings, output: codepipeline.Artifact) -> actions.Action:
        if source.provider == "codecommit":
            repository = codecommit.Repository.from_repository_name(self, "Repository", source.repository)
            return actions.CodeCommitSourceAction(
                action_name="Source", repository=repository, branch=source.branch, output=output
            )
        owner, _, name = source.repository.rpartition("/")
        # The role CDK would make for the action, made here to grant what CDK leaves out: CDK grants only
        # codestar-connections:UseConnection, and IAM needs the action's service prefix to match the connection
        # ARN's, so a connection made since the rename to AWS CodeConnections also needs codeconnections:.
        role = iam.Role(self, "SourceActionRole", assumed_by=iam.AccountRootPrincipal())
        if connection_service(source.connection_arn) == "codeconnections":
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="UseConnection",
                    actions=["codeconnections:UseConnection"],
                    resources=[source.connection_arn],
                )
            )
        self.source_role = role
        return actions.CodeStarConnectionsSourceAction(
            action_name="Source",
            connection_arn=source.connection_arn,
            owner=owner,
            repo=name,
            branch=source.branch,
            output=output,
            role=role,
        )

    def _grant_build_permissions(self, config: ProjectConfig, bucket_name: str) -> None:
        partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        execution_role = f"arn:{partition}:iam::{account}:role/{config.execution_role_name}"
        bucket_objects = f"arn:{partition}:s3:::{bucket_name}/*"
        stable_pipeline = f"arn:{partition}:sagemaker:{region}:{account}:pipeline/{config.pipeline_name('stable')}"
        # upsert --aws reads the step image URI from this stack's outputs.
        platform_stack = (
            f"arn:{partition}:cloudformation:{region}:{account}:stack/{config.stack_names['ml-platform']}/*"
        )
        statements = [
            iam.PolicyStatement(
                sid="DeployThroughCdkBootstrapRoles",
                actions=["sts:AssumeRole"],
                resources=[
                    f"arn:{partition}:iam::{account}:role/cdk-{CDK_BOOTSTRAP_QUALIFIER}-{purpose}-role-{account}-{region}"
                    for purpose in ("deploy", "file-publishing", "image-publishing", "lookup")
                ],
            ),
            iam.PolicyStatement(
                sid="CheckBootstrapVersion",
                actions=["ssm:GetParameter"],
                resources=[
                    f"arn:{partition}:ssm:{region}:{account}:parameter/cdk-bootstrap/{CDK_BOOTSTRAP_QUALIFIER}/version"
                ],
            ),
            iam.PolicyStatement(
                sid="UpsertStablePipeline",
                actions=[
                    "sagemaker:CreatePipeline",
                    "sagemaker:UpdatePipeline",
                    "sagemaker:DescribePipeline",
                    "sagemaker:AddTags",
                ],
                resources=[stable_pipeline],
            ),
            iam.PolicyStatement(
                sid="PassExecutionRoleToPipeline",
                actions=["iam:PassRole"],
                resources=[execution_role],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="UploadPipelineCode",
                actions=["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                resources=[f"arn:{partition}:s3:::{bucket_name}", bucket_objects],
            ),
            iam.PolicyStatement(sid="CheckExecutionRoleExists", actions=["iam:GetRole"], resources=[execution_role]),
            iam.PolicyStatement(
                sid="ReadStepImageOutput",
                actions=["cloudformation:DescribeStacks"],
                resources=[platform_stack],
            ),
            iam.PolicyStatement(
                sid="ActionsWithoutResourceArns",
                actions=["sts:GetCallerIdentity", "sagemaker:ListPipelines"],
                resources=["*"],
            ),
        ]
        for statement in statements:
            self.project.add_to_role_policy(statement)
        nag.acknowledge_wildcards(self.project, [bucket_objects], "Objects of the project's own artefact bucket.")
        nag.acknowledge_wildcards(
            self.project, [platform_stack], "The ML platform stack itself: a stack ARN ends in its generated id."
        )
        nag.acknowledge_wildcards(
            self.project, ["*"], "sts:GetCallerIdentity and sagemaker:ListPipelines have no resource ARN."
        )

    def _acknowledge_generated_grants(self, artifacts: s3.Bucket) -> None:
        """The wildcards CDK itself writes for CodeBuild logs/reports and for reading the artefact bucket."""
        stack = cdk.Stack.of(self)
        build_logs = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/codebuild/{self.project.project_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        reports = stack.format_arn(
            service="codebuild", resource="report-group", resource_name=f"{self.project.project_name}-*"
        )
        nag.acknowledge_wildcards(
            self.project, [build_logs, reports], "CDK scopes the build's log streams and test reports to this project."
        )
        for construct in (self.project, self.pipeline, *([self.source_role] if self.source_role else [])):
            nag.acknowledge_wildcards(
                construct, [artifacts.arn_for_objects("*")], "Objects of this pipeline's own artefact bucket."
            )
            nag.acknowledge_wildcard_actions(
                construct,
                ("s3:GetBucket*", "s3:GetObject*", "s3:List*", "s3:Abort*", "s3:DeleteObject*"),
                "CDK's read/write grant on this pipeline's own artefact bucket (the only resource they apply to).",
            )
