"""The CDK app's stacks: a stage per account (the tooling account's, then each `[[stage]]`), and CI/CD.

infra/app.py checks the settings first, then builds this (loading the CDK costs seconds of jsii start-up).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from localsage.facts import cdk_context as infra_settings
from localsage.facts import config as project_config
from localsage.facts import kpi_schema
from localsage.facts.config import LOCAL_ACCOUNT_ID, TOOLING_STAGE
from localsage.kpi import queries as kpi_queries
from stacks.cicd import CicdStack
from stacks.ml_platform import STEP_IMAGE_DOCKERFILE, ModelSource
from stacks.stage import ApplicationParts, ApplicationStage


@dataclass
class BuiltApp:
    """The app; the tooling account's stacks by part (ml-platform, notifications, kpi, cicd); every stage; notes."""

    app: cdk.App
    stacks: dict[str, cdk.Stack]
    stages: dict[str, ApplicationStage]
    notes: list[str] = field(default_factory=list)


def build(
    root: Path,
    infra: Path,
    config: project_config.ProjectConfig,
    chosen: infra_settings.InfraSettings,
    context: dict,
    outdir: str | None = None,
) -> BuiltApp:
    """Build every stage and the CI/CD stack (not yet synthesized) from the checked settings; `context` is the
    app's (cdk.json's and the caller's; the CDK adds CDK_CONTEXT_JSON, which `chosen` already holds)."""
    app = cdk.App(
        context=context,
        outdir=outdir or os.environ.get("CDK_OUTDIR") or str(infra / "cdk.out"),
        analytics_reporting=False,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    account = _account(config, chosen)
    names = config.stack_names
    notes = []
    dockerfile = root / STEP_IMAGE_DOCKERFILE
    step_image_root = root if dockerfile.is_file() and not chosen.is_local else None
    if not step_image_root:
        why = "local synth (the local runner needs no ECR image)" if chosen.is_local else f"no {STEP_IMAGE_DOCKERFILE}"
        notes.append(f"step image left out of {names['ml-platform']}: {why}")
    parts = ApplicationParts(
        config=config,
        notify_experimental=chosen.notify_experimental,
        notification_email=chosen.notification_email,
        schema=kpi_schema.load_for_project(root),
        queries=kpi_queries.load_queries(root),
        bytes_scanned_cutoff=chosen.athena_bytes_scanned_cutoff,
        quicksight_principal_arns=chosen.quicksight_principal_arns,
        step_image_root=step_image_root,
        local=chosen.is_local,
    )
    tooling_environment = cdk.Environment(account=account, region=config.region)
    tooling = ApplicationStage(
        app,
        TOOLING_STAGE,
        parts=parts,
        env=tooling_environment,
        bucket_name=config.bucket_name(account or cdk.Aws.ACCOUNT_ID),
        reader_accounts=config.target_accounts,
    )
    stages = {TOOLING_STAGE: tooling}
    # QuickSight principals and the e-mail subscription belong to the tooling account, where models are approved.
    target_parts = dataclasses.replace(parts, notification_email="", quicksight_principal_arns=())
    # Stages need project.account (config.validate): the tooling account in AWS, also in a local synth.
    model_source = ModelSource(config.account, config.bucket_name(config.account))
    for stage in config.stages:
        stages[stage.name] = ApplicationStage(
            app,
            stage.name,
            parts=target_parts,
            env=cdk.Environment(account=stage.account, region=config.region),
            bucket_name=config.derived_bucket_name(stage.account),
            model_source=model_source,
        )
    # Tags before the CI/CD stack: CDK Pipelines synthesizes the stages it deploys while it is built.
    for scope in stages.values():
        _tag(scope, config, chosen)
    stacks: dict[str, cdk.Stack] = dict(tooling.stacks)
    if chosen.source and not chosen.is_local:
        stacks["cicd"] = CicdStack(
            app,
            names["cicd"],
            root=root,
            config=config,
            source=chosen.source,
            tooling=tooling,
            targets=[(stage, stages[stage.name]) for stage in config.stages],
            env=tooling_environment,
            description=f"{config.pipeline_base_name}: CDK Pipelines deploying every stage, running ./dev tasks",
            analytics_reporting=False,
        )
        _tag(stacks["cicd"], config, chosen)
    elif not chosen.is_local:
        notes.append(
            f"{names['cicd']} left out: set source_connection_arn and source_repository "
            "(or codecommit_repository) in infra/cdk.json context"
        )
    return BuiltApp(app, stacks, stages, notes)


def _tag(scope: Construct, config: project_config.ProjectConfig, chosen: infra_settings.InfraSettings) -> None:
    # moto's CloudFormation fails to create a KMS key that has tags (it expects TagKey, not Key).
    untagged = ["AWS::KMS::Key"] if chosen.is_local else []
    for key, value in config.tags.items():
        cdk.Tags.of(scope).add(key, value, exclude_resource_types=untagged)


def _account(config: project_config.ProjectConfig, chosen: infra_settings.InfraSettings) -> str | None:
    if chosen.is_local:
        return LOCAL_ACCOUNT_ID
    return config.account or os.environ.get("CDK_DEFAULT_ACCOUNT") or None
