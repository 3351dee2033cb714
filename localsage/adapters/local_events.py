"""Model package notifications in the emulator, as in AWS: event on the bus, rule match, message on the SNS topic.

In AWS, SageMaker puts a "SageMaker Model Package State Change" event on the default bus at each
registration and approval change, and the notifications stack's rule sends the transformed text to the
topic. The emulator emits no SageMaker events and cannot deliver a rule to an SNS target (moto answers
HTTP 500 after the other targets got the event). So the local target (`Target.model_package_changed`) puts
the same event on the emulator's bus itself, matches it against the same pattern (localsage.facts.events),
and publishes the same text to the topic, where a local queue stands in for the e-mail subscription. It
publishes as the role the rule's target names, as EventBridge does (once `./dev deploy --local` made the rule and
its role): a role that may not publish to the topic delivers nothing, and that is said, as in AWS, where the
rule's invocation fails and the registration does not.

Each state change is delivered once: its id (package ARN, approval status, last-modified time) is
recorded under the project's local state folder, so a retried delivery publishes nothing new. The id also
travels with the message (a message attribute), so the inbox reader can tell a message it already kept from
the same message published again when the emulator replays its recorded requests after a restart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from localsage.adapters import roles
from localsage.facts import cdk_context
from localsage.facts import config as project_config
from localsage.facts import events as model_events
from localsage.facts.state_files import append_json_line

# Everything the local notification flow keeps, under the state folder; emulator.reset clears it with the rest.
STATE_FOLDER = Path("notifications")
LEDGER = STATE_FOLDER / "delivered.jsonl"
DELIVERY_ID_ATTRIBUTE = "localsage-delivery-id"
DENIED_CODES = ("AuthorizationError", "AccessDenied")  # SNS's word for a publish its caller may not make
# The DescribeModelPackage fields the state-change event's detail carries (times as ISO-8601 strings).
DETAIL_KEYS = (
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "InferenceSpecification",
    "ModelPackageStatus",
    "ModelPackageStatusDetails",
    "CertifyForMarketplace",
    "ModelApprovalStatus",
    "ApprovalDescription",
    "MetadataProperties",
    "ModelMetrics",
    "LastModifiedTime",
)
# Never retried: moto fails PutEvents with HTTP 500 when a rule targets SNS, after delivering to the other
# targets, so a retry would deliver those again.
_NO_RETRIES = Config(retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class Delivery:
    """One message the topic received for a state change (or found already delivered)."""

    dedupe_id: str
    group: str
    version: int
    status: str
    message: str
    message_id: str
    already_delivered: bool = False


def inbox_queue_name(config: project_config.ProjectConfig) -> str:
    """The local SQS queue subscribed to the topic in place of the e-mail address."""
    return f"{config.sns_topic_name}-local-inbox"


def notified_groups(root: Path, config: project_config.ProjectConfig) -> list[str]:
    """The groups the notifications stack's rule covers: stable always, experimental when cdk.json says so."""
    return model_events.notified_groups(config, cdk_context.load(root).notify_experimental)


def state_change_event(described: Mapping[str, Any], account: str, region: str) -> dict[str, Any]:
    """The event SageMaker emits for the package `described` (a DescribeModelPackage response)."""
    detail = {key: _jsonable(described[key]) for key in DETAIL_KEYS if key in described}
    changed = described.get("LastModifiedTime") or described["CreationTime"]
    return {
        "version": "0",
        "detail-type": model_events.DETAIL_TYPE,
        "source": model_events.SOURCE,
        "account": account,
        # EventBridge's envelope time has whole seconds.
        "time": _iso(changed, timespec="seconds"),
        "region": region,
        "resources": [described["ModelPackageArn"]],
        "detail": detail,
    }


def model_package_changed(target, model_package_arn: str, say: Callable[[str], None] = print) -> Delivery | None:
    """Emit the state change of `model_package_arn` on the emulator's bus and deliver the rule's message.

    `target` is the local target of the project whose rule applies. Returns the delivery, or None when the
    rule does not match (a rejection, or a group the stack leaves out).
    """
    config = target.config
    session = target.session()
    described = target.client("sagemaker").describe_model_package(ModelPackageName=model_package_arn)
    event = state_change_event(described, target.account, target.region)
    detail = event["detail"]
    changed_at = _iso(described.get("LastModifiedTime") or described["CreationTime"])  # finer than event["time"]
    dedupe_id = hashlib.sha256(
        "\0".join([model_package_arn, detail["ModelApprovalStatus"], changed_at]).encode()
    ).hexdigest()[:32]
    ledger = project_config.local_dir(target.root) / LEDGER
    for recorded in _read_ledger(ledger):
        if recorded["dedupe_id"] == dedupe_id:  # a retry: neither the bus nor the topic sees it twice
            return Delivery(**{**recorded, "already_delivered": True})
    _put_on_bus(session, event, say)
    if not model_events.matches(
        model_events.model_package_state_change_pattern(notified_groups(target.root, config)), event
    ):
        say(
            f"notify: no message for {detail['ModelPackageGroupName']} version {detail['ModelPackageVersion']} "
            f"({detail.get('ModelApprovalStatus')}): the notifications rule does not match it"
        )
        return None
    message = model_events.render_message(event)
    topic_arn = ensure_topic(target)
    try:
        message_id = _publisher(target, topic_arn, say).publish(
            TopicArn=topic_arn,
            Message=message,
            MessageAttributes={DELIVERY_ID_ATTRIBUTE: {"DataType": "String", "StringValue": dedupe_id}},
        )["MessageId"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in DENIED_CODES:
            raise
        say(f"notify: the rule could not deliver to {topic_arn}: {exc.response['Error'].get('Message', exc)}")
        return None
    delivery = Delivery(
        dedupe_id,
        detail["ModelPackageGroupName"],
        detail["ModelPackageVersion"],
        detail["ModelApprovalStatus"],
        message,
        message_id,
    )
    append_json_line(ledger, {key: value for key, value in delivery.__dict__.items() if key != "already_delivered"})
    return delivery


def _publisher(target, topic_arn: str, say: Callable[[str], None]):
    """The SNS client the rule's delivery signs with: its target's role, when a rule targets the topic through a
    role the emulator holds; else the emulator's own credentials (no rule deployed yet)."""
    events = target.client("events")
    for rule in events.list_rule_names_by_target(TargetArn=topic_arn)["RuleNames"]:
        for rule_target in events.list_targets_by_rule(Rule=rule)["Targets"]:
            session = roles.assume(target, rule_target.get("RoleArn"), say) if rule_target["Arn"] == topic_arn else None
            if session is not None:
                return session.client("sns")
    return target.client("sns")


def ensure_topic(target) -> str:
    """The topic's ARN (created when no deploy made it), with the local inbox queue subscribed."""
    config = target.config
    sns = target.client("sns")
    topic_arn = sns.create_topic(Name=config.sns_topic_name)["TopicArn"]
    sqs = target.client("sqs")
    queue_url = sqs.create_queue(QueueName=inbox_queue_name(config))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]}
    if queue_arn not in subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn


def _put_on_bus(session, event: Mapping[str, Any], say: Callable[[str], None]) -> None:
    events = session.client("events", config=_NO_RETRIES)
    try:
        events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                    "Time": datetime.fromisoformat(event["time"]),
                }
            ]
        )
    except ClientError as exc:
        if exc.response["ResponseMetadata"].get("HTTPStatusCode") != 500:
            raise
        say("notify: the emulator's EventBridge cannot deliver a rule to SNS (a moto gap); delivering its message here")


def _read_ledger(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def _iso(moment: datetime | str, timespec: str = "milliseconds") -> str:
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
