"""`./dev models`, `./dev approve`, `./dev reject`: the model registry of one variant, locally or in AWS.

Approval changes go through UpdateModelPackage with the reason as ApprovalDescription. In AWS, SageMaker
then emits the state change event the notifications rule turns into a message; locally, localsage.notify
does the same on the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from localsage import targets
from localsage.config import VARIANTS, check_variant
from localsage.errors import UserError

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"


@dataclass(frozen=True)
class ModelVersion:
    """One model package version as `./dev models` shows it; rmse is None when its metrics are unreadable."""

    group: str
    version: int
    approval_status: str
    created: datetime
    arn: str
    metrics_uri: str | None
    rmse: float | None
    approval_description: str | None

    def summary(self) -> str:
        return f"{self.group} version {self.version} is now {self.approval_status}"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "created": self.created.isoformat()}


def list_versions(
    variant: str = "experimental", use_aws: bool = False, root: Path | None = None, say: Callable[[str], None] = print
) -> list[ModelVersion]:
    """Every version in the variant's model package group, newest first, with the rmse of its evaluation."""
    check_variant(variant)
    target = targets.select(use_aws, root, say)
    return versions_of(target, target.config.model_package_group(variant))


def versions_of(target, group: str) -> list[ModelVersion]:
    sagemaker = target.client("sagemaker")
    summaries = []
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending"):
        summaries.extend(page["ModelPackageSummaryList"])
    return [
        _version(target, sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]))
        for summary in sorted(summaries, key=lambda summary: summary["ModelPackageVersion"], reverse=True)
    ]


def set_approval(
    status: str,
    variant: str = "experimental",
    version: str | None = None,
    reason: str | None = None,
    use_aws: bool = False,
    root: Path | None = None,
    say: Callable[[str], None] = print,
) -> ModelVersion:
    """Set `version` (a number or a model package ARN; default: the newest pending one) to Approved or Rejected.

    `reason` becomes the ApprovalDescription. Locally the state change is then notified as SageMaker would.
    """
    if status not in (APPROVED, REJECTED):
        raise UserError(f"approval status {status!r} is not one of {APPROVED}, {REJECTED}")
    check_variant(variant)
    target = targets.select(use_aws, root, say)
    group = target.config.model_package_group(variant)
    chosen = _chosen_version(target, variant, group, version)
    if chosen.approval_status == status:
        raise UserError(f"{group} version {chosen.version} is already {status}: nothing to change")
    request = {"ModelPackageArn": chosen.arn, "ModelApprovalStatus": status}
    if reason:
        request["ApprovalDescription"] = reason
    sagemaker = target.client("sagemaker")
    sagemaker.update_model_package(**request)
    if target.is_local:
        from localsage.notify import model_package_changed

        model_package_changed(chosen.arn, root=target.root, say=say)
    return _version(target, sagemaker.describe_model_package(ModelPackageName=chosen.arn))


def _chosen_version(target, variant: str, group: str, version: str | None) -> ModelVersion:
    versions = versions_of(target, group)
    if version is None:
        pending = [found for found in versions if found.approval_status == PENDING]
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


def _version(target, described: dict) -> ModelVersion:
    metrics_uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    return ModelVersion(
        group=described["ModelPackageGroupName"],
        version=described["ModelPackageVersion"],
        approval_status=described.get("ModelApprovalStatus", ""),
        created=described["CreationTime"],
        arn=described["ModelPackageArn"],
        metrics_uri=metrics_uri,
        rmse=report_rmse(target, metrics_uri) if metrics_uri else None,
        approval_description=described.get("ApprovalDescription"),
    )


def report_rmse(target, metrics_uri: str) -> float | None:
    """The rmse in the evaluation report (the path the pipeline's quality gate reads), or None if unreadable."""
    from localsage.runner.local_run import pipeline_module

    bucket, _, key = metrics_uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, ValueError):
        return None
    value = report
    for part in pipeline_module(target.root).RMSE_PATH.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def print_versions(versions: list[ModelVersion], as_json: bool = False) -> None:
    """The `./dev models` table (or JSON list), newest first."""
    from localsage.cli import console, print_json

    if as_json:
        print_json([version.as_dict() for version in versions])
        return
    if not versions:
        console.print("no model versions yet: run './dev local-run' to register one")
        return
    # Plain lines rather than a table: nothing is truncated on a narrow terminal or in CI logs.
    console.print(f"{versions[0].group}, newest first:", markup=False)
    for version in versions:
        rmse = "-" if version.rmse is None else f"{version.rmse:.4f}"
        created = version.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        console.print(
            f"  {version.version:>4}  {version.approval_status:<21}  {created}  rmse {rmse:<7}  {version.arn}",
            markup=False,
        )
