"""The one definition of the "SageMaker Model Package State Change" notification: pattern and message.

The CDK notifications stack and the local approval flow both read these values, so the rule deployed to
AWS and the event the emulator routes locally can never disagree. Plain data and tiny functions only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from localsage.facts.model_registry import ApprovalStatus

if TYPE_CHECKING:
    from localsage.facts.config import ProjectConfig

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
NOTIFIED_APPROVAL_STATUSES = (ApprovalStatus.APPROVED.value, ApprovalStatus.PENDING.value)
# A model package emits events while it is still being created; only a finished one is worth a message.
NOTIFIED_PACKAGE_STATUSES = ("Completed",)

# EventBridge input transformer: JSON paths into the event, and the text the topic receives.
MESSAGE_PATHS = {
    "group": "$.detail.ModelPackageGroupName",
    "version": "$.detail.ModelPackageVersion",
    "status": "$.detail.ModelApprovalStatus",
    "metrics": "$.detail.ModelMetrics.ModelQuality.Statistics.S3Uri",
    "arn": "$.detail.ModelPackageArn",
}
MESSAGE_TEMPLATE = (
    '"Model package group <group>: version <version> is now <status>. Metrics: <metrics>. Package: <arn>"'
)
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_]+)>")


def notified_groups(config: ProjectConfig, notify_experimental: bool) -> list[str]:
    """The model package groups the rule covers: stable always, experimental when the context asks for it."""
    variants = ("experimental", "stable") if notify_experimental else ("stable",)
    return [config.model_package_group(variant) for variant in variants]


def model_package_state_change_pattern(groups: Iterable[str]) -> dict[str, Any]:
    """The EventBridge pattern for finished packages of `groups` that are approved or await approval."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {
            "ModelPackageGroupName": sorted(groups),
            "ModelApprovalStatus": list(NOTIFIED_APPROVAL_STATUSES),
            "ModelPackageStatus": list(NOTIFIED_PACKAGE_STATUSES),
        },
    }


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern matching for the forms this project's rule uses: nested fields and lists of values.

    A field matches when its value (or, for an array, any element) equals one of the listed values; a field
    the event lacks matches nothing. Content filters ({"prefix": ...}, ...) are refused rather than guessed.
    """
    for key, wanted in pattern.items():
        value = event.get(key) if isinstance(event, Mapping) else None
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
            continue
        if not isinstance(wanted, list) or any(isinstance(option, (Mapping, list)) for option in wanted):
            raise ValueError(f"pattern field {key!r}: only lists of plain values are supported locally, got {wanted!r}")
        if key not in event:
            return False
        candidates = value if isinstance(value, list) else [value]
        if not any(candidate == option for candidate in candidates for option in wanted):
            return False
    return True


def input_transformer() -> dict[str, Any]:
    """The rule target's InputTransformer (CloudFormation / PutTargets shape)."""
    return {"InputPathsMap": dict(MESSAGE_PATHS), "InputTemplate": MESSAGE_TEMPLATE}


def render_message(event: Mapping[str, Any]) -> str:
    """The text EventBridge sends to the topic for `event` (what the local approval flow publishes itself).

    Like EventBridge, a path missing from the event renders as an empty string.
    """
    values = {name: _json_path_value(event, path) for name, path in MESSAGE_PATHS.items()}
    text = _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), MESSAGE_TEMPLATE)
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


def parse_message(text: str) -> dict[str, str] | None:
    """The values a rendered message holds (`render_message`'s inverse), or None for other text."""
    body = MESSAGE_TEMPLATE[1:-1] if MESSAGE_TEMPLATE.startswith('"') else MESSAGE_TEMPLATE
    pattern = "".join(
        f"(?P<{part}>.*?)" if index % 2 else re.escape(part) for index, part in enumerate(_PLACEHOLDER.split(body))
    )
    match = re.fullmatch(pattern, text)
    return match.groupdict() if match else None


def _json_path_value(event: Mapping[str, Any], path: str) -> str:
    value: Any = event
    for key in path.removeprefix("$.").split("."):
        if not isinstance(value, Mapping) or key not in value:
            return ""
        value = value[key]
    return str(value)
