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
        names = config.stack_names
        common = {
            "synthesizer": cdk.BootstraplessSynthesizer() if parts.local else None,
            "analytics_reporting": False,
        }
        self.bucket_name = bucket_name
        platform = MlPlatformStack(
            self,
            names["ml-platform"],
            stack_name=names["ml-platform"],
            config=config,
            bucket_name=bucket_name,
            step_image_root=parts.step_image_root,
            reader_accounts=reader_accounts or [],
            model_source=model_source,
            description=f"{config.pipeline_base_name}: artefact bucket, model package groups, SageMaker role",
            **common,
        )
        notifications = NotificationsStack(
            self,
            names["notifications"],
            stack_name=names["notifications"],
            config=config,
            notify_experimental=parts.notify_experimental,
            email=parts.notification_email,
            description=f"{config.pipeline_base_name}: model package approvals to an SNS topic",
            **common,
        )
        kpi = KpiStack(
            self,
            names["kpi"],
            stack_name=names["kpi"],
            config=config,
            bucket_name=bucket_name,
            schema=parts.schema,
            queries=parts.queries,
            bytes_scanned_cutoff=parts.bytes_scanned_cutoff,
            quicksight_principal_arns=parts.quicksight_principal_arns,
            description=f"{config.pipeline_base_name}: Glue KPI table, Athena workgroup and queries",
            **common,
        )
        for dependent in (notifications, kpi):
            dependent.add_stack_dependency(platform)
        self.stacks: dict[str, cdk.Stack] = {"ml-platform": platform, "notifications": notifications, "kpi": kpi}
