"""The emulator's recording: only what changes state is kept, and a replay restores it at the recorded times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from localsage.controlplane.recording import Recorder, is_read


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


def in_a_fresh_interpreter(script: str, *arguments: str) -> str:
    """Run `script` in its own interpreter, its stdout. A replay freezes the clock with freezegun, whose first
    freeze in a process scans every loaded module: about 50 s in the test session once the CDK and the SageMaker
    SDK are imported, against well under a second in the emulator's own process."""
    completed = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env={**os.environ, "MOTO_ACCOUNT_ID": "000000000000"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


RESTORED_AT_THE_RECORDED_TIME = """
import base64, json, sys
from pathlib import Path
from werkzeug.test import EnvironBuilder
from localsage.controlplane.moto_app import moto_application
from localsage.controlplane.recording import Recorder, replay

def sagemaker_request(operation, document):
    headers = {
        "Host": "localhost", "X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=host, Signature=0",
    }
    body = base64.b64encode(json.dumps(document).encode()).decode()
    return {"method": "POST", "uri": "/", "headers": headers, "body": body}

path, recorded_at = Path(sys.argv[1]), float(sys.argv[2])
line = {"time": recorded_at, **sagemaker_request("CreateModelPackageGroup", {"ModelPackageGroupName": "restored"})}
path.write_text(json.dumps(line) + "\\n")
application = moto_application()
count = replay(Recorder(path), application, say=lambda message: None)
describe = sagemaker_request("DescribeModelPackageGroup", {"ModelPackageGroupName": "restored"})
environ = EnvironBuilder(path="/", method="POST", headers=describe["headers"], data=base64.b64decode(describe["body"]))
body = b"".join(application(environ.get_environ(), lambda status, headers, exc_info=None: None))
print(json.dumps({"replayed": count, "described": json.loads(body)}))
"""


def test_a_replay_restores_state_at_the_recorded_times(tmp_path):
    """A model package group recorded an hour ago comes back with its creation time of an hour ago."""
    an_hour_ago = round(time.time() - 3600, 3)
    result = json.loads(
        in_a_fresh_interpreter(RESTORED_AT_THE_RECORDED_TIME, str(tmp_path / "recording.jsonl"), str(an_hour_ago))
    )
    assert result["replayed"] == 1
    assert abs(result["described"]["CreationTime"] - an_hour_ago) < 1


TORN_RECORDING = """
import sys
from pathlib import Path
from localsage.controlplane.moto_app import moto_application
from localsage.controlplane.recording import Recorder, replay
print(replay(Recorder(Path(sys.argv[1])), moto_application(), say=lambda message: None))
"""


def test_a_torn_last_line_is_dropped_and_old_recordings_still_replay(tmp_path):
    recorder = Recorder(tmp_path / "recording.jsonl")
    old_format = {"headers": {"Host": "localhost"}, "method": "PUT", "url": "http://localhost/old-bucket", "body": ""}
    recorder.path.write_text(json.dumps(old_format) + "\n" + '{"time": 1, "method": "PUT", "ur')
    entries = list(recorder.entries())
    assert [entry["uri"] for entry in entries] == ["/old-bucket"]
    assert recorder.path.read_text().endswith("\n"), "the torn line is cut off the file"
    assert in_a_fresh_interpreter(TORN_RECORDING, str(recorder.path)).strip() == "1"


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
    stdout = in_a_fresh_interpreter(AFTER_A_REPLAY, str(tmp_path / "recording.jsonl"))
    assert stdout.strip().endswith("200 OK"), stdout
