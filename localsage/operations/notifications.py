"""What the model events topic delivered in the emulator: the local inbox, read like a mail client reads mail.

Each read moves the messages from the inbox queue (SNS delivered them there) into a mailbox file under the
state folder, keyed by the delivery id each message carries: SQS has no way to list a queue without
consuming it (a zero visibility receive returns the same first ten messages in the emulator), and a message
published again by the emulator's replay after a restart is recognised by its id and kept once.
"""

from __future__ import annotations

import json

from localsage.adapters.local_events import DELIVERY_ID_ATTRIBUTE, STATE_FOLDER, inbox_queue_name
from localsage.errors import UserError
from localsage.facts.config import local_dir
from localsage.facts.state_files import append_json_line

MAILBOX = STATE_FOLDER / "inbox.jsonl"


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
    mailbox = local_dir(target.root) / MAILBOX
    kept = _read_mailbox(mailbox)
    while received := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for envelope in (json.loads(message["Body"]) for message in received):
            attribute = envelope.get("MessageAttributes", {}).get(DELIVERY_ID_ATTRIBUTE, {})
            delivery_id = attribute.get("Value") or envelope["MessageId"]
            if delivery_id not in kept:
                kept[delivery_id] = {
                    "time": envelope["Timestamp"],
                    "message_id": envelope["MessageId"],
                    "message": envelope["Message"],
                }
                append_json_line(mailbox, {"delivery_id": delivery_id, **kept[delivery_id]})
        # Deleted only once kept in the mailbox: a reader that dies in between reads them again, once.
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(received)],
        )
    return sorted(kept.values(), key=lambda message: message["time"])


def _read_mailbox(path) -> dict[str, dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    kept = {}
    for line in lines:
        try:
            record = json.loads(line)
            kept[record.pop("delivery_id")] = record
        except (ValueError, KeyError, AttributeError):
            continue  # cut short by a crash before its message was deleted: the next read keeps it again
    return kept
