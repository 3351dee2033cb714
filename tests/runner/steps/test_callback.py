"""Callback: the step sends SageMaker's message to its queue and waits until a client answers its token through
the emulator's SageMaker API (boto3 here; the AWS CLI and `./dev callback` in the end-to-end tests)."""

from __future__ import annotations

import json
import secrets
import threading

import pytest
from botocore.exceptions import ClientError
from steps_support import context

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.run import callback_store
from localsage.runner.steps.base import ExecutionStopped, StepFailed
from localsage.runner.steps.callback import Callback

EXECUTION = "arn:aws:sagemaker:us-east-1:000000000000:pipeline/p/execution/abc123"
OUTPUTS = [{"OutputName": "decision", "OutputType": "String"}, {"OutputName": "score", "OutputType": "Float"}]


def queue(target) -> str:
    name = f"callbacks-{secrets.token_hex(4)}"
    target.client("sqs").create_queue(QueueName=name)
    return f"https://sqs.us-east-1.amazonaws.com/000000000000/{name}"


def callback_context(target, tmp_path, state_dir, queue_url: str):
    step = context(target, tmp_path, "Approve", "Callback", {})
    raw = {"Name": "Approve", "Type": "Callback", "SqsQueueUrl": queue_url, "OutputParameters": OUTPUTS}
    step.step = Step(name="Approve", type="Callback", arguments={}, path="Steps[0]", raw=raw)
    step.callbacks = callback_store(state_dir)
    step.execution_arn = EXECUTION
    return step


def answer_when_asked(target, queue_url: str, answer) -> threading.Thread:
    """A client that reads the step's message from the queue and answers its token."""
    sqs = target.client("sqs")
    local_url = sqs.get_queue_url(QueueName=queue_url.rsplit("/", 1)[-1])["QueueUrl"]
    received: list[dict] = []

    def client():
        while not received:
            for message in sqs.receive_message(QueueUrl=local_url, WaitTimeSeconds=1).get("Messages", []):
                received.append(json.loads(message["Body"]))
        answer(target.client("sagemaker"), received[0])

    thread = threading.Thread(target=client, daemon=True)
    thread.received = received
    thread.start()
    return thread


def test_the_answer_through_the_api_becomes_the_steps_typed_outputs(local_target, tmp_path, state_dir):
    url = queue(local_target)
    step = callback_context(local_target, tmp_path, state_dir, url)

    def succeed(sagemaker, message):
        outputs = [{"Name": "decision", "Value": "ship"}, {"Name": "score", "Value": "0.93"}]
        answered = sagemaker.send_pipeline_execution_step_success(
            CallbackToken=message["token"], OutputParameters=outputs
        )
        assert answered["PipelineExecutionArn"] == EXECUTION

    client = answer_when_asked(local_target, url, succeed)
    properties = Callback().run({"model": "s3://b/model.tar.gz", "n": 3}, step).properties
    client.join(timeout=10)
    (message,) = client.received
    assert message["arguments"] == {"model": "s3://b/model.tar.gz", "n": 3}
    assert message["pipelineExecutionArn"] == EXECUTION and len(message["token"]) == 10
    assert properties["OutputParameters"] == {"decision": "ship", "score": 0.93}
    with pytest.raises(ClientError, match="already answered"):
        local_target.client("sagemaker").send_pipeline_execution_step_failure(CallbackToken=message["token"])


def test_a_failure_answer_fails_the_step_with_its_reason(local_target, tmp_path, state_dir):
    url = queue(local_target)
    step = callback_context(local_target, tmp_path, state_dir, url)

    def fail(sagemaker, message):
        sagemaker.send_pipeline_execution_step_failure(
            CallbackToken=message["token"], FailureReason="bias check failed"
        )

    client = answer_when_asked(local_target, url, fail)
    with pytest.raises(StepFailed, match="the callback answered failure: bias check failed"):
        Callback().run({}, step)
    client.join(timeout=10)


def test_a_stop_sends_the_stopping_message_and_ends_the_wait(local_target, tmp_path, state_dir):
    url = queue(local_target)
    step = callback_context(local_target, tmp_path, state_dir, url)
    sqs = local_target.client("sqs")
    local_url = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[-1])["QueueUrl"]
    threading.Timer(0.5, step.stopping.set).start()
    with pytest.raises(ExecutionStopped):
        Callback().run({"n": 1}, step)
    bodies = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=local_url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert [body.get("status") for body in bodies] == [None, "Stopping"]
    assert bodies[0]["token"] == bodies[1]["token"]


def test_unknown_tokens_and_missing_queues_are_named(local_target, tmp_path, state_dir):
    with pytest.raises(ClientError, match="does not belong to any step"):
        local_target.client("sagemaker").send_pipeline_execution_step_success(CallbackToken="abcdefghij")
    missing = "https://sqs.us-east-1.amazonaws.com/000000000000/nowhere"
    with pytest.raises(UserError, match="the emulator has no queue nowhere"):
        Callback().run({}, callback_context(local_target, tmp_path, state_dir, missing))
