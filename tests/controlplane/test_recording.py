"""The emulator's recording: only what changes state is kept, and a replay restores it at the recorded times."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest

from localsage.controlplane.moto_app import moto_application
from localsage.controlplane.recording import Recorder, is_read, replay


@pytest.mark.parametrize(
    ("method", "target", "body", "read"),
    [
        ("GET", None, b"", True),
        ("HEAD", None, b"", True),
        ("PUT", None, b"data", False),
        ("POST", "SageMaker.DescribePipeline", b"{}", True),
        ("POST", "SageMaker.ListModelPackages", b"{}", True),
        ("POST", "SageMaker.CreateModelPackage", b"{}", False),
        ("POST", "AmazonSQS.ReceiveMessage", b"{}", False),
        ("POST", None, b"Action=GetQueueUrl&QueueName=q", True),
        ("POST", None, b"Action=Publish&TopicArn=t", False),
    ],
)
def test_reads_are_not_recorded(method, target, body, read):
    assert is_read(method, target, body) is read


def sagemaker_request(operation: str, document: dict) -> dict:
    """A SageMaker JSON-protocol request as a recorded line holds it (moto reads the service from the signature)."""
    return {
        "method": "POST",
        "uri": "/",
        "headers": {
            "Host": "localhost",
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        "body": base64.b64encode(json.dumps(document).encode()).decode(),
    }


def call(application, operation: str, document: dict) -> dict:
    from werkzeug.test import EnvironBuilder

    request = sagemaker_request(operation, document)
    environ = EnvironBuilder(
        path="/", method="POST", headers=request["headers"], data=json.dumps(document).encode()
    ).get_environ()
    body = b"".join(application(environ, lambda status, headers, exc_info=None: None))
    return json.loads(body)


def test_a_replay_restores_state_at_the_recorded_times(tmp_path):
    """A model package group recorded an hour ago comes back with its creation time of an hour ago."""
    recorder = Recorder(tmp_path / "recording.jsonl")
    an_hour_ago = round(time.time() - 3600, 3)
    line = {"time": an_hour_ago, **sagemaker_request("CreateModelPackageGroup", {"ModelPackageGroupName": "restored"})}
    recorder.path.write_text(json.dumps(line) + "\n")
    fresh = moto_application()
    assert replay(recorder, fresh, say=lambda message: None) == 1
    described = call(fresh, "DescribeModelPackageGroup", {"ModelPackageGroupName": "restored"})
    assert abs(described["CreationTime"] - an_hour_ago) < 1


def test_a_torn_last_line_is_dropped_and_old_recordings_still_replay(tmp_path):
    recorder = Recorder(tmp_path / "recording.jsonl")
    old_format = {"headers": {"Host": "localhost"}, "method": "PUT", "url": "http://localhost/old-bucket", "body": ""}
    recorder.path.write_text(json.dumps(old_format) + "\n" + '{"time": 1, "method": "PUT", "ur')
    entries = list(recorder.entries())
    assert [entry["uri"] for entry in entries] == ["/old-bucket"]
    assert recorder.path.read_text().endswith("\n"), "the torn line is cut off the file"
    assert replay(recorder, moto_application(), say=lambda message: None) == 1


AFTER_A_REPLAY = """
import base64, json, sys, time
from pathlib import Path
from urllib.parse import urlencode
from werkzeug.test import EnvironBuilder
from localsage.controlplane.moto_app import moto_application
from localsage.controlplane.recording import Recorder, replay

def request(service, params):
    scope = f"Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    headers = {"Host": "localhost", "Content-Type": "application/x-www-form-urlencoded",
               "Authorization": "AWS4-HMAC-SHA256 " + scope}
    body = base64.b64encode(urlencode(params).encode()).decode()
    return {"method": "POST", "uri": "/", "headers": headers, "body": body}

topic, queue = "arn:aws:sns:us-east-1:000000000000:t", "arn:aws:sqs:us-east-1:000000000000:q"
recorded = [
    request("sqs", {"Action": "CreateQueue", "QueueName": "q"}),
    request("sns", {"Action": "CreateTopic", "Name": "t"}),
    request("sns", {"Action": "Subscribe", "TopicArn": topic, "Protocol": "sqs", "Endpoint": queue}),
    request("sns", {"Action": "Publish", "TopicArn": topic, "Message": "during the replay"}),
]
path = Path(sys.argv[1])
path.write_text("".join(json.dumps({"time": time.time() - 60 + i, **r}) + "\\n" for i, r in enumerate(recorded)))
application = moto_application()
replay(Recorder(path), application, say=lambda message: None)
after = request("sns", {"Action": "Publish", "TopicArn": topic, "Message": "after the replay"})
environ = EnvironBuilder(path="/", method="POST", headers=after["headers"], data=base64.b64decode(after["body"]))
statuses = []
b"".join(application(environ.get_environ(), lambda status, headers, exc_info=None: statuses.append(status)))
print(statuses[0])
"""


def test_an_sns_delivery_to_sqs_after_a_replay_is_signed_with_the_real_clock(tmp_path):
    """A replay runs under a frozen clock; a certificate moto signed then (an SNS delivery to SQS) must not leave
    the next one, after the replay, failing (RegisterModel's notification did, with a 500). A fresh process: the
    clock class is settled once per process."""
    completed = subprocess.run(
        [sys.executable, "-c", AFTER_A_REPLAY, str(tmp_path / "recording.jsonl")],
        env={**os.environ, "MOTO_ACCOUNT_ID": "000000000000"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().endswith("200 OK"), completed.stdout
