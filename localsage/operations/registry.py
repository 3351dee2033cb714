"""The model registry of one variant, locally or in AWS: versions (with the quality metric of each version's
evaluation report) and approval changes.

Approval changes go through UpdateModelPackage with the reason as ApprovalDescription; the target then
notifies the state change (SageMaker does that in AWS, the local target does it on the emulator).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from localsage.errors import UserError
from localsage.facts.config import VARIANTS
from localsage.facts.model_registry import ApprovalStatus


@dataclass(frozen=True)
class ModelVersion:
    """One model package version; `metric` is the quality metric's value (None when unreadable or unknown)."""

    group: str
    version: int
    approval_status: str
    created: datetime
    arn: str
    metrics_uri: str | None
    metric_name: str | None
    metric: float | None
    approval_description: str | None

    def summary(self) -> str:
        return f"{self.group} version {self.version} is now {self.approval_status}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "created": self.created.isoformat()}


def metric_name(metric_path: str | None) -> str | None:
    """The name a metric path shows as: `regression_metrics.rmse.value` -> `rmse`."""
    if not metric_path:
        return None
    parts = metric_path.split(".")
    return parts[-2] if parts[-1] == "value" and len(parts) > 1 else parts[-1]


def versions_of(target, group: str, metric_path: str | None) -> list[ModelVersion]:
    """Every version in `group`, newest first, with the value at `metric_path` in its evaluation report."""
    sagemaker = target.client("sagemaker")
    summaries = []
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"):
        summaries.extend(page["ModelPackageSummaryList"])
    return [
        _version(target, sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]), metric_path)
        for summary in sorted(summaries, key=lambda summary: summary["ModelPackageVersion"], reverse=True)
    ]


def set_approval(
    target,
    status: ApprovalStatus,
    variant: str,
    version: str | None,
    reason: str | None,
    metric_path: str | None,
    say: Callable[[str], None] = print,
) -> ModelVersion:
    """Set `version` (a number or a model package ARN; default: the newest pending one) to Approved or Rejected.

    `reason` becomes the ApprovalDescription. The target then notifies the state change.
    """
    if status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        raise UserError(
            f"approval status {status!r} is not one of {ApprovalStatus.APPROVED}, {ApprovalStatus.REJECTED}"
        )
    group = target.config.model_package_group(variant)
    chosen = _chosen_version(target, variant, group, version, metric_path)
    if chosen.approval_status == status:
        raise UserError(f"{group} version {chosen.version} is already {status}: nothing to change")
    request = {"ModelPackageArn": chosen.arn, "ModelApprovalStatus": str(status)}
    if reason:
        request["ApprovalDescription"] = reason
    sagemaker = target.client("sagemaker")
    sagemaker.update_model_package(**request)
    target.model_package_changed(chosen.arn, say=say)
    return _version(target, sagemaker.describe_model_package(ModelPackageName=chosen.arn), metric_path)


def _chosen_version(target, variant: str, group: str, version: str | None, metric_path: str | None) -> ModelVersion:
    versions = versions_of(target, group, metric_path)
    if version is None:
        pending = [found for found in versions if found.approval_status == ApprovalStatus.PENDING]
        if not pending:
            latest = (
                f"the newest is version {versions[0].version} ({versions[0].approval_status})"
                if versions
                else "it is empty"
            )
            raise UserError(
                f"no model in {group} awaits approval ({latest}): register one with './dev local-run', "
                "or pass --version"
            )
        return pending[0]
    other_variant = next(v for v in VARIANTS if v != variant)
    other_group = target.config.model_package_group(other_variant)
    if version.startswith("arn:"):
        if f":model-package/{other_group}/" in version:
            raise UserError(f"{version} belongs to {other_group}, not {group}: pass --variant {other_variant}")
        wanted = [found for found in versions if found.arn == version]
    elif version.isdigit():
        wanted = [found for found in versions if found.version == int(version)]
    else:
        raise UserError(f"--version {version!r} is neither a version number nor a model package ARN")
    if not wanted:
        known = ", ".join(str(found.version) for found in reversed(versions)) or "none"
        raise UserError(f"{group} has no version {version} (its versions: {known}): run './dev models' to list them")
    return wanted[0]


def _version(target, described: dict, metric_path: str | None) -> ModelVersion:
    metrics_uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    return ModelVersion(
        group=described["ModelPackageGroupName"],
        version=described["ModelPackageVersion"],
        approval_status=described.get("ModelApprovalStatus", ""),
        created=described["CreationTime"],
        arn=described["ModelPackageArn"],
        metrics_uri=metrics_uri,
        metric_name=metric_name(metric_path),
        metric=report_metric(target, metrics_uri, metric_path) if metrics_uri and metric_path else None,
        approval_description=described.get("ApprovalDescription"),
    )


def report_metric(target, metrics_uri: str, metric_path: str) -> float | None:
    """The number at `metric_path` (dotted) in the JSON report at `metrics_uri`, or None if unreadable."""
    bucket, _, key = metrics_uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        return None
    value = report
    for part in metric_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def ensure_model_package_group(target, variant: str) -> None:
    """The group the ML platform stack creates in AWS; created in the emulator so a local run works before a deploy."""
    sagemaker = target.client("sagemaker")
    group = target.config.model_package_group(variant)
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        return
    except ClientError:
        pass
    sagemaker.create_model_package_group(
        ModelPackageGroupName=group,
        ModelPackageGroupDescription=f"{target.config.pipeline_name(variant)} models",
        Tags=target.config.tag_list,
    )
