"""Model package notifications locally, as in AWS: event on the bus, rule match, message on the SNS topic.

In AWS, SageMaker puts a "SageMaker Model Package State Change" event on the default bus at each
registration and approval change, and the notifications stack's rule sends the transformed text to the
topic. The emulator emits no SageMaker events and cannot deliver a rule to an SNS target (moto answers
HTTP 500 after the other targets got the event). So, locally, this module puts the same event on the
emulator's bus itself, matches it against the same pattern (localsage.events), and publishes the same text
(events.render_message) to the topic, where a local queue stands in for the e-mail subscription.

Each state change is delivered once: its id (package ARN, approval status, last-modified time) is
recorded under the local state folder, so a retried delivery publishes nothing new.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from localsage import aws
from localsage import config as project_config
from localsage import events as model_events
from localsage.errors import UserError

LEDGER = Path("notifications") / "delivered.jsonl"
CDK_JSON = Path("infra") / "cdk.json"
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
    """The groups the notifications stack's rule covers: stable always, experimental when cdk.json says so.

    Reads infra/cdk.json's context through the infra's own parser (infra/stacks/settings.py), like the CDK app.
    """
    context = json.loads((root / CDK_JSON).read_text(encoding="utf-8")).get("context", {})
    # By path, not `import stacks`: the module must be this project's, whichever one was imported before.
    path = root / "infra" / "stacks" / "settings.py"
    name = f"project_infra_settings_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    infra_settings = importlib.util.module_from_spec(spec)
    sys.modules[name] = infra_settings  # dataclasses look their module up while the file executes
    spec.loader.exec_module(infra_settings)
    return model_events.notified_groups(config, infra_settings.from_context(context.get).notify_experimental)


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


def model_package_changed(
    model_package_arn: str, root: Path | None = None, say: Callable[[str], None] = print
) -> Delivery | None:
    """Emit the state change of `model_package_arn` on the emulator's bus and deliver the rule's message.

    Local only: the process must already point at the emulator (the runner and local targets do that).
    Returns the delivery, or None when the rule does not match (a rejection, or a group the stack leaves out).
    """
    root = root or project_config.project_root()
    config = project_config.load(root)
    _, _, _, region, account, _ = model_package_arn.split(":", 5)
    aws.check_local_environment(os.environ)
    session = aws.guarded_session(region)
    described = session.client("sagemaker").describe_model_package(ModelPackageName=model_package_arn)
    event = state_change_event(described, account, region)
    detail = event["detail"]
    changed_at = _iso(described.get("LastModifiedTime") or described["CreationTime"])  # finer than event["time"]
    dedupe_id = hashlib.sha256(
        "\0".join([model_package_arn, detail["ModelApprovalStatus"], changed_at]).encode()
    ).hexdigest()[:32]
    ledger = project_config.local_dir(root) / LEDGER
    for recorded in _read_ledger(ledger):
        if recorded["dedupe_id"] == dedupe_id:  # a retry: neither the bus nor the topic sees it twice
            return Delivery(**{**recorded, "already_delivered": True})
    _put_on_bus(session, event, say)
    if not matches(model_events.model_package_state_change_pattern(notified_groups(root, config)), event):
        say(
            f"notify: no message for {detail['ModelPackageGroupName']} version {detail['ModelPackageVersion']} "
            f"({detail.get('ModelApprovalStatus')}): the notifications rule does not match it"
        )
        return None
    message = model_events.render_message(event)
    message_id = session.client("sns").publish(TopicArn=ensure_topic(session, config), Message=message)["MessageId"]
    delivery = Delivery(
        dedupe_id,
        detail["ModelPackageGroupName"],
        detail["ModelPackageVersion"],
        detail["ModelApprovalStatus"],
        message,
        message_id,
    )
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a", encoding="utf-8") as stream:
        record = {key: value for key, value in delivery.__dict__.items() if key != "already_delivered"}
        stream.write(json.dumps(record) + "\n")
    return delivery


def ensure_topic(session, config: project_config.ProjectConfig) -> str:
    """The topic's ARN (created when no deploy made it), with the local inbox queue subscribed."""
    sns = session.client("sns")
    topic_arn = sns.create_topic(Name=config.sns_topic_name)["TopicArn"]
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName=inbox_queue_name(config))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscribed = {s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]}
    if queue_arn not in subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn


def delivered_messages(target) -> list[dict[str, str]]:
    """Every message the topic delivered to the local inbox, oldest first; the queue keeps them all.

    Raises a UserError when the topic exists but nothing is subscribed that could have kept its messages.
    """
    config = target.config
    sns = target.client("sns")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{config.sns_topic_name}")]
    if not topics:
        return []
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topics[0])["Subscriptions"]
    inbox = [
        s for s in subscriptions if s["Protocol"] == "sqs" and s["Endpoint"].endswith(f":{inbox_queue_name(config)}")
    ]
    if not inbox:
        others = ", ".join(f"{s['Protocol']}:{s['Endpoint']}" for s in subscriptions) or "none"
        raise UserError(
            f"topic {config.sns_topic_name} has no local inbox subscriber (subscribers: {others}), so nothing it "
            "published was kept: the next registration or approval subscribes the inbox queue"
        )
    sqs = target.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=inbox_queue_name(config))["QueueUrl"]
    return sorted((_envelope_fields(body) for body in _peek_all(sqs, queue_url)), key=lambda m: m["time"])


def _peek_all(sqs, queue_url: str) -> list[str]:
    """Every message body in the queue, none consumed and none hidden.

    Receiving with a visibility timeout of 0 leaves each message visible, also when the emulator replays these
    reads after a restart (a longer timeout would hide the messages for that long after every restart). A
    receive may return any subset, so read until a few rounds bring nothing new.
    """
    bodies: dict[str, str] = {}
    rounds_without_news = 0
    while rounds_without_news < 3:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        new = {m["MessageId"]: m["Body"] for m in received.get("Messages", []) if m["MessageId"] not in bodies}
        bodies.update(new)
        rounds_without_news = 0 if new else rounds_without_news + 1
    return list(bodies.values())


def _envelope_fields(body: str) -> dict[str, str]:
    envelope = json.loads(body)
    return {"time": envelope["Timestamp"], "message_id": envelope["MessageId"], "message": envelope["Message"]}


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


def notifications(root: Path | None = None, say: Callable[[str], None] = print) -> list[dict[str, str]]:
    """What `./dev notifications` prints: the messages the emulator's topic delivered, oldest first."""
    from localsage import targets
    from localsage.registry import report_rmse

    target = targets.local(root, say)
    messages = delivered_messages(target)
    for message in messages:
        # The message names the evaluation report (EventBridge cannot read S3); the listing shows its rmse too.
        found = _METRICS_URI.search(message["message"])
        message["rmse"] = report_rmse(target, found.group(1)) if found else None
    return messages


_METRICS_URI = re.compile(r"(s3://\S+?\.json)")


def print_messages(messages: list[dict[str, str]], as_json: bool = False) -> None:
    """The `./dev notifications` listing (or JSON list), oldest first."""
    from localsage.cli import console, print_json

    if as_json:
        print_json(messages)
        return
    if not messages:
        console.print("no notifications delivered yet: a registration or approval of a notified group sends one")
        return
    for message in messages:
        rmse = "" if message.get("rmse") is None else f"  (rmse {message['rmse']:.4f})"
        console.print(f"{message['time']}  {message['message']}{rmse}", markup=False)
