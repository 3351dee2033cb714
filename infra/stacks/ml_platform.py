"""ML platform: the artefact bucket, the two model package groups, the SageMaker execution role, the step image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from localsage.facts.config import VARIANTS, ProjectConfig
from stacks import nag

STEP_IMAGE_DOCKERFILE = Path("docker") / "Dockerfile"


def step_image_excludes(root: Path) -> list[str]:
    """The build context's ignore list: docker/Dockerfile.dockerignore, which Docker itself reads beside the file.

    The context is the repository root, so CDK must get the same list or it would stage .venv and node_modules.
    """
    ignore_file = root / STEP_IMAGE_DOCKERFILE.with_name(STEP_IMAGE_DOCKERFILE.name + ".dockerignore")
    if not ignore_file.is_file():
        return []
    lines = (line.strip() for line in ignore_file.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class ModelSource:
    """Where a target stage's approved models come from: the tooling account and its artefact bucket."""

    account: str
    bucket_name: str


def registry_arns(config: ProjectConfig, variant: str, account: str) -> tuple[str, str]:
    """A variant's model package group ARN and the pattern of its versions' ARNs, in `account`."""
    sagemaker_arn = f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{account}"
    group = config.model_package_group(variant)
    return f"{sagemaker_arn}:model-package-group/{group}", f"{sagemaker_arn}:model-package/{group}/*"


def stable_artefacts(config: ProjectConfig) -> str:
    """The keys the stable pipeline's jobs write (`<bucket>/<base>-stable...`)."""
    return f"{config.pipeline_name('stable')}*"


NONCURRENT_VERSION_DAYS = 90
ARCHIVE_AFTER_DAYS = 180


class MlPlatformStack(cdk.Stack):
    """What the pipelines need in the account: storage, a registry per variant, a role, an image."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ProjectConfig,
        bucket_name: str,
        step_image_root: Path | None,
        reader_accounts: list[str],
        model_source: ModelSource | None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.bucket = self._artifact_bucket(bucket_name)
        self.model_package_groups = {
            variant: sagemaker.CfnModelPackageGroup(
                self,
                f"{variant.capitalize()}ModelPackageGroup",
                model_package_group_name=config.model_package_group(variant),
                model_package_group_description=f"Models registered by the {config.pipeline_name(variant)} pipeline",
                model_package_group_policy=self._readers_policy(config, variant, reader_accounts),
            )
            for variant in VARIANTS
        }
        if reader_accounts:
            self._let_readers_fetch_stable_artefacts(config, reader_accounts)
        self.step_image = (
            ecr_assets.DockerImageAsset(
                self,
                "StepImage",
                directory=str(step_image_root),
                file=STEP_IMAGE_DOCKERFILE.as_posix(),
                # CDK stages the context without the ignored files and builds from that copy, so unlike Docker it
                # needs the Dockerfile kept explicitly.
                exclude=[*step_image_excludes(step_image_root), f"!{STEP_IMAGE_DOCKERFILE.as_posix()}"],
                ignore_mode=cdk.IgnoreMode.DOCKER,
                # SageMaker's ml.* instances are x86_64: an image built on Apple silicon would be arm64 otherwise.
                platform=ecr_assets.Platform.LINUX_AMD64,
            )
            if step_image_root
            else None
        )
        self.execution_role = self._execution_role(config)
        if model_source:
            self._read_stable_models_of(model_source, config)
        cdk.CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "ExecutionRoleArn", value=self.execution_role.role_arn)
        if self.step_image:
            cdk.CfnOutput(self, "StepImageUri", value=self.step_image.image_uri)

    def _readers_policy(self, config: ProjectConfig, variant: str, reader_accounts: list[str]) -> dict | None:
        """The stable group's resource policy: the target accounts may describe it and its versions (the reads of
        AWS's cross-account model registry policy: not UpdateModelPackage, so approving stays with this account,
        and not CreateModel, as a version names this account's step image, which the targets cannot pull)."""
        if variant != "stable" or not reader_accounts:
            return None
        group, versions = registry_arns(config, variant, cdk.Aws.ACCOUNT_ID)
        readers = {"AWS": [f"arn:{cdk.Aws.PARTITION}:iam::{account}:root" for account in reader_accounts]}
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TargetAccountsReadTheGroup",
                    "Effect": "Allow",
                    "Principal": readers,
                    "Action": ["sagemaker:DescribeModelPackageGroup"],
                    "Resource": group,
                },
                {
                    "Sid": "TargetAccountsReadItsVersions",
                    "Effect": "Allow",
                    "Principal": readers,
                    "Action": ["sagemaker:DescribeModelPackage"],
                    "Resource": versions,
                },
            ],
        }

    def _let_readers_fetch_stable_artefacts(self, config: ProjectConfig, reader_accounts: list[str]) -> None:
        """The stable pipeline's outputs (its jobs write under `<pipeline>-<job>/`, e.g. model.tar.gz under
        `<base>-stable-train/`) are readable by the target accounts."""
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TargetAccountsReadStableArtefacts",
                principals=[iam.AccountPrincipal(account) for account in reader_accounts],
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(stable_artefacts(config))],
            )
        )

    def _read_stable_models_of(self, source: ModelSource, config: ProjectConfig) -> None:
        """A target's role may read what the tooling account approved: cross-account access needs this side too."""
        group, versions = registry_arns(config, "stable", source.account)
        artefacts = f"arn:{cdk.Aws.PARTITION}:s3:::{source.bucket_name}/{stable_artefacts(config)}"
        policy = iam.Policy(
            self,
            "ToolingModelsPolicy",
            roles=[self.execution_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadApprovedStableVersions",
                    actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage"],
                    resources=[group, versions],
                ),
                iam.PolicyStatement(sid="ReadStableArtefacts", actions=["s3:GetObject"], resources=[artefacts]),
            ],
        )
        nag.acknowledge_wildcards(policy, [versions, artefacts], "The tooling account's stable versions and outputs.")

    def _artifact_bucket(self, name: str) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "ArtifactBucket",
            bucket_name=name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-artefact-versions",
                    noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="archive-old-artefacts",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=cdk.Duration.days(ARCHIVE_AFTER_DAYS),
                        )
                    ],
                ),
            ],
        )
        nag.acknowledge(
            bucket,
            "S1",
            "Access logging needs a second bucket per project; CloudTrail data events cover audits where required.",
        )
        return bucket

    def _execution_role(self, config: ProjectConfig) -> iam.Role:
        role = iam.Role(
            self,
            "SageMakerExecutionRole",
            role_name=config.execution_role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the {config.pipeline_base_name} SageMaker pipelines and their jobs",
        )
        partition, region, account = cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        sagemaker_arn = f"arn:{partition}:sagemaker:{region}:{account}"
        pipeline_arns = [
            *(f"{sagemaker_arn}:pipeline/{config.pipeline_name(v)}" for v in VARIANTS),
            *(f"{sagemaker_arn}:pipeline/{config.pipeline_name(v)}/*" for v in VARIANTS),
            # Jobs a pipeline starts are named pipelines-<execution id>-<step>-...
            f"{sagemaker_arn}:processing-job/pipelines-*",
            f"{sagemaker_arn}:training-job/pipelines-*",
            f"{sagemaker_arn}:transform-job/pipelines-*",
            f"{sagemaker_arn}:model/pipelines-*",
        ]
        # PipelineExperimentConfig: SageMaker Pipelines records each execution as a trial of an experiment named
        # after its pipeline (the SDK's default), with a trial component per job.
        experiment_arns = [
            *(f"{sagemaker_arn}:experiment/{config.pipeline_name(v).lower()}" for v in VARIANTS),
            f"{sagemaker_arn}:experiment-trial/*",
            f"{sagemaker_arn}:experiment-trial-component/*",
        ]
        registries = [registry_arns(config, variant, account) for variant in VARIANTS]
        registry = [group for group, _ in registries] + [versions for _, versions in registries]
        log_arns = [f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/*"]
        bucket_objects = self.bucket.arn_for_objects("*")
        statements = [
            iam.PolicyStatement(
                sid="ArtifactBucket",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation"],
                resources=[self.bucket.bucket_arn, bucket_objects],
            ),
            iam.PolicyStatement(
                sid="PipelinesAndTheirJobs",
                actions=[
                    "sagemaker:DescribePipeline",
                    "sagemaker:DescribePipelineExecution",
                    "sagemaker:ListPipelineExecutionSteps",
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:CreateModel",
                    "sagemaker:DescribeModel",
                    "sagemaker:AddTags",
                ],
                resources=pipeline_arns,
            ),
            iam.PolicyStatement(
                sid="ModelRegistry",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:AddTags",
                ],
                resources=registry,
            ),
            iam.PolicyStatement(
                sid="PipelineExperiments",
                actions=[
                    "sagemaker:CreateExperiment",
                    "sagemaker:DescribeExperiment",
                    "sagemaker:CreateTrial",
                    "sagemaker:DescribeTrial",
                    "sagemaker:CreateTrialComponent",
                    "sagemaker:DescribeTrialComponent",
                    "sagemaker:UpdateTrialComponent",
                    "sagemaker:AssociateTrialComponent",
                    "sagemaker:AddTags",
                ],
                resources=experiment_arns,
            ),
            iam.PolicyStatement(
                sid="JobLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=log_arns,
            ),
            iam.PolicyStatement(
                sid="JobMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
            iam.PolicyStatement(
                sid="PassThisRoleToJobs",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]
        policy = iam.Policy(self, "SageMakerExecutionPolicy", statements=statements, roles=[role])
        nag.acknowledge_wildcards(policy, [bucket_objects], "Objects of the project's own bucket.")
        nag.acknowledge_wildcards(
            policy, pipeline_arns, "Executions of the project's two pipelines and the jobs (pipelines-*) they start."
        )
        nag.acknowledge_wildcards(policy, registry, "Versions of the project's two model package groups.")
        nag.acknowledge_wildcards(
            policy, experiment_arns, "Trials and trial components of the two pipelines' experiments, one per run."
        )
        nag.acknowledge_wildcards(policy, log_arns, "SageMaker job log groups are created per job under this prefix.")
        nag.acknowledge_wildcards(
            policy, ["*"], "cloudwatch:PutMetricData has no resource ARN; a condition limits it to /aws/sagemaker."
        )
        if self.step_image:
            self.step_image.repository.grant_pull(role)
            nag.acknowledge_wildcards(
                role, ["*"], "ecr:GetAuthorizationToken has no resource ARN; image pulls are repository-scoped."
            )
        return role
