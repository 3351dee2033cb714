"""`./dev models`, `./dev approve`, `./dev reject`, `./dev notifications`: a variant's model registry.

Each version shows the metric its pipeline's quality gate reads (found in the pipeline's definition on the
target, e.g. `regression_metrics.rmse.value`) from the version's evaluation report.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from localsage.adapters import targets
from localsage.errors import UserError
from localsage.facts import events as model_events
from localsage.facts.config import VARIANTS, check_variant
from localsage.facts.model_registry import ApprovalStatus
from localsage.operations import notifications as inbox
from localsage.operations import pipelines, registry
from localsage.views.console import say
from localsage.views.models import print_changed, print_messages, print_versions


def quality_metric_path(target, variant: str) -> str | None:
    """The metric path the variant's pipeline gates on, or None while the pipeline does not exist there."""
    try:
        return pipelines.quality_metric_path(
            pipelines.deployed_definition(target, target.config.pipeline_name(variant))
        )
    except UserError:
        return None


def models(
    variant: str = "experimental", use_aws: bool = False, root: Path | None = None, say: Callable[[str], None] = print
) -> list[registry.ModelVersion]:
    """Every version in the variant's model package group, newest first, with its quality metric."""
    check_variant(variant)
    target = targets.select(use_aws, root, say)
    return registry.versions_of(
        target, target.config.model_package_group(variant), quality_metric_path(target, variant)
    )


def models_task(as_json: bool = False, **options) -> None:
    print_versions(models(say=say, **options), as_json=as_json)


def set_approval(
    status: ApprovalStatus,
    variant: str = "experimental",
    version: str | None = None,
    reason: str | None = None,
    use_aws: bool = False,
    root: Path | None = None,
    say: Callable[[str], None] = print,
) -> registry.ModelVersion:
    """Approve or reject `version` (default: the newest pending one); the target notifies the change."""
    check_variant(variant)
    if status == ApprovalStatus.REJECTED and not (reason or "").strip():
        raise UserError("reject needs --reason: say why (it is kept as the version's ApprovalDescription)")
    target = targets.select(use_aws, root, say)
    return registry.set_approval(target, status, variant, version, reason, quality_metric_path(target, variant), say)


def approval_task(status: ApprovalStatus, **options) -> None:
    print_changed(set_approval(status, say=say, **options))


def notifications(root: Path | None = None, say: Callable[[str], None] = print) -> list[dict]:
    """The messages the emulator's topic delivered, oldest first, each with its version's quality metric."""
    target = targets.local(root, say)
    groups = {target.config.model_package_group(variant): variant for variant in VARIANTS}

    @cache
    def metric_path(group: str) -> str | None:
        return quality_metric_path(target, groups[group]) if group in groups else None

    messages = inbox.delivered_messages(target)
    for message in messages:
        # The message names the evaluation report (EventBridge cannot read S3); the listing shows its metric too.
        values = model_events.parse_message(message["message"]) or {}
        metrics_uri = values.get("metrics")
        path = metric_path(values["group"]) if "group" in values else None
        message["metric_name"] = registry.metric_name(path)
        message["metric"] = registry.report_metric(target, metrics_uri, path) if path and metrics_uri else None
    return messages


def notifications_task(as_json: bool = False, **options) -> None:
    print_messages(notifications(say=say, **options), as_json=as_json)
