"""CI/CD: a self-mutating CDK Pipelines pipeline that deploys every stage, in order, from the tooling account.

Source (a CodeStar/CodeConnections connection or CodeCommit) -> Synth (buildspec.yaml: `./dev test`, `./dev
synth`) -> UpdatePipeline (the pipeline updates itself from the synthesized cicd stack) -> Assets (the step image
built for linux/amd64 in CodeBuild, so no laptop needs a Docker engine) -> the tooling stage, then
buildspec-promote.yaml (`./dev upsert --variant stable --aws`, `./dev kpi-check --aws`) -> each `[[stage]]` of
project.toml, behind a manual approval where the stage asks for one.

Both buildspecs are the repository's own files: CodeBuild runs exactly what they hold, and every command in
them is a `./dev` task (tests/devops/test_buildspec.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import yaml
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from localsage.errors import UserError
from localsage.facts.cdk_context import SourceSettings
from localsage.facts.config import DeploymentStage, ProjectConfig
from stacks import nag
from stacks.stage import ApplicationStage

BUILDSPEC = "buildspec.yaml"
PROMOTE_BUILDSPEC = "buildspec-promote.yaml"
# Where `./dev synth` writes the assembly the pipeline deploys (relative to the repository root).
ASSEMBLY_DIRECTORY = "infra/cdk.out"
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
ARTEFACT_DAYS = 30
# What CDK's grants on the pipeline's artefact bucket and its KMS key hold.
ARTEFACT_GRANT_ACTIONS = (
    "s3:GetBucket*",
    "s3:GetObject*",
    "s3:List*",
    "s3:Abort*",
    "s3:DeleteObject*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def connection_service(connection_arn: str) -> str:
    """The service prefix of a connection ARN: codestar-connections, or codeconnections since the rename."""
    return connection_arn.split(":")[2]


def read_buildspec(root: Path, name: str) -> dict:
    try:
        return yaml.safe_load((root / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{name} is missing: the CI/CD pipeline's CodeBuild steps run it") from None


def pinned_cdk_cli(root: Path) -> str:
    """The CDK CLI version package.json pins: the pipeline's self-mutation installs the same (its asset steps
    install CDK's default, the latest cdk-assets)."""
    try:
        return json.loads((root / "package.json").read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"]
    except (FileNotFoundError, KeyError, ValueError):
        raise UserError("package.json does not pin aws-cdk: the pipeline installs the CLI version it pins") from None


class CicdStack(cdk.Stack):
    """The pipeline of CDK Pipelines, on a CodePipeline whose Source action this stack makes itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        root: Path,
        config: ProjectConfig,
        source: SourceSettings,
        tooling: ApplicationStage,
        targets: list[tuple[DeploymentStage, ApplicationStage]],
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.root = root
        self.source_role: iam.Role | None = None
        cross_account = bool(config.target_accounts)
        self.code_pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name=f"{config.pipeline_base_name}-cicd",
            pipeline_type=codepipeline.PipelineType.V2,
            restart_execution_on_update=True,
            # Target accounts read the pipeline's artefacts (templates, assets manifests) through a KMS key.
            cross_account_keys=cross_account,
            enable_key_rotation=cross_account or None,
        )
        # CDK makes the bucket without a lifecycle: every run's assembly (the image's build context too) would stay.
        bucket = self.code_pipeline.artifact_bucket.node.default_child
        bucket.add_property_override(
            "LifecycleConfiguration.Rules",
            [{"Id": "expire-hand-over-artefacts", "Status": "Enabled", "ExpirationInDays": ARTEFACT_DAYS}],
        )
        source_output = codepipeline.Artifact("Source")
        self.code_pipeline.add_stage(stage_name="Source", actions=[self._source_action(source, source_output)])
        self.pipeline = pipelines.CodePipeline(
            self,
            "Deployment",
            code_pipeline=self.code_pipeline,
            synth=self._buildspec_step(
                "Synth",
                BUILDSPEC,
                pipelines.CodePipelineFileSet.from_artifact(source_output),
                primary_output_directory=ASSEMBLY_DIRECTORY,
                # What the CDK CLI gives the app on a laptop: the same account and region, so the pipeline
                # synthesizes the stacks a laptop's `./dev deploy --aws` would.
                env={"CDK_DEFAULT_ACCOUNT": self.account, "CDK_DEFAULT_REGION": self.region},
            ),
            self_mutation=True,
            cli_version=pinned_cdk_cli(root),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
                ),
            ),
        )
        promote = self._buildspec_step(
            "PromoteStable",
            PROMOTE_BUILDSPEC,
            pipelines.CodePipelineFileSet.from_artifact(source_output),
            role_policy_statements=self._promotion_statements(config, tooling.bucket_name),
        )
        self.pipeline.add_stage(tooling, post=[promote])
        for stage, application in targets:
            approval = (
                [pipelines.ManualApprovalStep(f"Approve-{stage.name}", comment=f"Deploy to {stage.name}?")]
                if stage.approval
                else []
            )
            self.pipeline.add_stage(application, pre=approval)
        self.pipeline.build_pipeline()
        self._acknowledge_generated_findings(promote)

    def _buildspec_step(
        self, name: str, buildspec: str, input_files: pipelines.IFileSetProducer, **options
    ) -> pipelines.CodeBuildStep:
        """A CodeBuild step running one of the repository's buildspecs as it is (CDK adds only the artefacts)."""
        return pipelines.CodeBuildStep(
            name,
            input=input_files,
            commands=[],
            partial_build_spec=codebuild.BuildSpec.from_object(read_buildspec(self.root, buildspec)),
            timeout=cdk.Duration.minutes(60),
            **options,
        )

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

    def _promotion_statements(self, config: ProjectConfig, bucket_name: str) -> list[iam.PolicyStatement]:
        """What `./dev upsert --variant stable --aws` and `./dev kpi-check --aws` call in the tooling account."""
        partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        execution_role = f"arn:{partition}:iam::{account}:role/{config.execution_role_name}"
        bucket = f"arn:{partition}:s3:::{bucket_name}"
        stable_pipeline = f"arn:{partition}:sagemaker:{region}:{account}:pipeline/{config.pipeline_name('stable')}"
        # upsert --aws reads the step image URI from this stack's outputs.
        platform_stack = (
            f"arn:{partition}:cloudformation:{region}:{account}:stack/{config.stack_names['ml-platform']}/*"
        )
        glue = f"arn:{partition}:glue:{region}:{account}"
        self.promotion_wildcards = {
            f"{bucket}/*": "Objects of the project's own artefact bucket (pipeline code, KPI files, query results).",
            platform_stack: "The ML platform stack itself: a stack ARN ends in its generated id.",
            "*": "sts:GetCallerIdentity and sagemaker:ListPipelines have no resource ARN.",
        }
        return [
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
                sid="UploadPipelineCodeAndReadKpis",
                actions=["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                resources=[bucket, f"{bucket}/*"],
            ),
            iam.PolicyStatement(sid="CheckExecutionRoleExists", actions=["iam:GetRole"], resources=[execution_role]),
            iam.PolicyStatement(
                sid="ReadStepImageOutput", actions=["cloudformation:DescribeStacks"], resources=[platform_stack]
            ),
            iam.PolicyStatement(
                sid="ExplainKpiQueries",
                actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetWorkGroup"],
                resources=[f"arn:{partition}:athena:{region}:{account}:workgroup/{config.athena_workgroup}"],
            ),
            iam.PolicyStatement(
                sid="ReadKpiTableForAthena",
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                resources=[
                    f"{glue}:catalog",
                    f"{glue}:database/{config.glue_database}",
                    f"{glue}:table/{config.glue_database}/{config.kpi_table}",
                ],
            ),
            iam.PolicyStatement(
                sid="ActionsWithoutResourceArns",
                actions=["sts:GetCallerIdentity", "sagemaker:ListPipelines"],
                resources=["*"],
            ),
        ]

    def _build_outputs(self, log_group: str, report_group: str) -> list[str]:
        """The ARNs of CodeBuild's log groups (`/aws/codebuild/<log_group>`) and report groups, as CDK grants them."""
        return [
            self.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/codebuild/{log_group}",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
            self.format_arn(service="codebuild", resource="report-group", resource_name=report_group),
        ]

    def _acknowledge_generated_findings(self, promote: pipelines.CodeBuildStep) -> None:
        """What cdk-nag finds in the roles and projects CDK Pipelines generates, each accepted with its reason."""
        for path, reason in self.promotion_wildcards.items():
            nag.acknowledge_wildcards(promote.project, [path], reason)
        projects = [self.pipeline.synth_project, self.pipeline.self_mutation_project, promote.project]
        assets = self.pipeline.node.try_find_child("Assets")
        # CDK Pipelines shares one role per asset kind among its asset projects, whose names it generates.
        asset_roles = [child for child in (assets.node.children if assets else []) if isinstance(child, iam.Role)]
        roles = [self.code_pipeline.role, *(project.role for project in projects), *asset_roles]
        for construct in [*roles, *([self.source_role] if self.source_role else [])]:
            nag.acknowledge_wildcards(
                construct,
                [self.code_pipeline.artifact_bucket.arn_for_objects("*")],
                "Objects of this pipeline's own artefact bucket.",
            )
            nag.acknowledge_wildcard_actions(
                construct,
                ARTEFACT_GRANT_ACTIONS,
                "CDK's read/write grant on this pipeline's own artefact bucket and its key (the only resources).",
            )
        for project in projects:
            nag.acknowledge_wildcards(
                project,
                self._build_outputs(f"{project.project_name}:*", f"{project.project_name}-*"),
                "CDK scopes each build's log streams and test reports to its project.",
            )
        for role in asset_roles:
            nag.acknowledge_wildcards(
                role,
                [*self._build_outputs("*", "*"), "*"],
                "The asset projects' shared role: CDK Pipelines names the projects itself, and grants starting "
                "their builds (codebuild:StartBuild, BatchGetBuilds, StopBuild) on every project.",
            )
        nag.acknowledge(
            self,
            "CB4",
            "Build outputs go to the pipeline's artefact bucket, encrypted by CodePipeline (with a KMS key as soon as "
            "a stage is in another account).",
        )
        nag.acknowledge(
            self.code_pipeline.artifact_bucket,
            "S1",
            f"Holds only the pipeline's hand-over artefacts, expired after {ARTEFACT_DAYS} days; CloudTrail audits.",
        )
        nag.acknowledge_wildcards(
            self.pipeline.self_mutation_project,
            ["*"],
            "Self-mutation reads stack descriptions (cloudformation:DescribeStacks), which CDK grants on every stack.",
        )
        nag.acknowledge_wildcards(
            self.pipeline.self_mutation_project,
            [f"arn:*:iam::{self.account}:role/*"],
            "Self-mutation assumes this account's CDK bootstrap roles; CDK's condition on their "
            "aws-cdk:bootstrap-role tag limits it to them.",
        )
