"""One deployment of the project's stacks (ML platform, notifications, KPIs) into one account.

The tooling account gets one, and each `[[stage]]` of project.toml another, with the same stack names (the
CloudFormation names and logical ids of a project without stages are unchanged). The CI/CD pipeline deploys
these stages in order; `deploy --aws` deploys them from a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from localsage.facts.config import ProjectConfig
from localsage.facts.kpi_schema import KpiSchema
from localsage.kpi.queries import NamedQuery
from stacks.kpi import KpiStack
from stacks.ml_platform import MlPlatformStack, ModelSource
from stacks.notifications import NotificationsStack


@dataclass(frozen=True)
class ApplicationParts:
    """What every stage's stacks are built from: the project and the settings chosen for this synth."""

    config: ProjectConfig
    notify_experimental: bool
    notification_email: str
    schema: KpiSchema
    queries: list[NamedQuery]
    bytes_scanned_cutoff: int
    quicksight_principal_arns: tuple[str, ...]
    step_image_root: Path | None
    local: bool


class ApplicationStage(cdk.Stage):
    """The project's stacks for one account: `reader_accounts` may read the stable models this account approves;
    `model_source` is where a target stage reads them from."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        parts: ApplicationParts,
        env: cdk.Environment,
        bucket_name: str,
        reader_accounts: list[str] | None = None,
        model_source: ModelSource | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env)
        config = parts.config
        self.bucket_name = bucket_name

        def stack(kind: type[cdk.Stack], part: str, what: str, **properties) -> cdk.Stack:
            name = config.stack_names[part]
            return kind(
                self,
                name,
                stack_name=name,
                config=config,
                description=f"{config.pipeline_base_name}: {what}",
                synthesizer=cdk.BootstraplessSynthesizer() if parts.local else None,
                analytics_reporting=False,
                **properties,
            )

        platform = stack(
            MlPlatformStack,
            "ml-platform",
            "artefact bucket, model package groups, SageMaker role",
            bucket_name=bucket_name,
            step_image_root=parts.step_image_root,
            reader_accounts=reader_accounts or [],
            model_source=model_source,
        )
        notifications = stack(
            NotificationsStack,
            "notifications",
            "model package approvals to an SNS topic",
            notify_experimental=parts.notify_experimental,
            email=parts.notification_email,
        )
        kpi = stack(
            KpiStack,
            "kpi",
            "Glue KPI table, Athena workgroup and queries",
            bucket_name=bucket_name,
            schema=parts.schema,
            queries=parts.queries,
            bytes_scanned_cutoff=parts.bytes_scanned_cutoff,
            quicksight_principal_arns=parts.quicksight_principal_arns,
        )
        for dependent in (notifications, kpi):
            dependent.add_stack_dependency(platform)
        self.stacks: dict[str, cdk.Stack] = {"ml-platform": platform, "notifications": notifications, "kpi": kpi}
