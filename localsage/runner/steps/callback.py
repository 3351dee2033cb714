"""Callback steps: the step sends SageMaker's message to its SQS queue and waits for the answer to its token.

The message is what SageMaker sends (`token`, `pipelineExecutionArn`, `arguments`: the step's resolved
Arguments); any client answers through the SageMaker API of the emulator (SendPipelineExecutionStepSuccess with
OutputParameters, or SendPipelineExecutionStepFailure), which the control plane records for the waiting step
(`runner/callbacks.py`). A stop sends a second message with `"status": "Stopping"`, as SageMaker does; locally
the step then ends Stopped at once instead of waiting for an answer.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localsage.errors import UserError
from localsage.runner.callbacks import FAILED
from localsage.runner.definition import Step
from localsage.runner.records import StepRecord
from localsage.runner.steps import output_parameters
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType

POLL_S = 0.1


class Callback(StepType):
    type_name = "Callback"
    extra_properties = frozenset({"OutputParameters"})
    locally = "message to the emulator's SQS queue, then waits for SendPipelineExecutionStepSuccess/Failure"

    def check(self, step: Step) -> None:
        queue = step.raw.get("SqsQueueUrl")
        if not isinstance(queue, str) or not urlsplit(queue).path.strip("/"):
            raise UserError(
                f"{step.where}SqsQueueUrl is missing: a Callback step names the queue it sends its token to"
            )
        output_parameters.declared(step)

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        step = context.step
        queue_url = step.raw["SqsQueueUrl"]
        sqs = context.client("sqs")
        local_queue = _local_queue(sqs, queue_url, step.where)
        callback = context.callbacks.new(context.execution_arn or "", step.name, queue_url)
        message = {"token": callback.token, "pipelineExecutionArn": context.execution_arn, "arguments": arguments}
        sqs.send_message(QueueUrl=local_queue, MessageBody=json.dumps(message))
        context.say(
            f"{step.where}waiting for callback token {callback.token} (sent to {queue_url.rsplit('/', 1)[-1]}): "
            f"answer with SendPipelineExecutionStepSuccess/Failure, e.g. ./dev callback {callback.token} --success"
        )
        while not (answered := self._waiting(context, callback.token)).outcome:
            if context.stopping.is_set():
                sqs.send_message(QueueUrl=local_queue, MessageBody=json.dumps({**message, "status": "Stopping"}))
                raise ExecutionStopped()
            time.sleep(POLL_S)
        if answered.outcome == FAILED:
            raise StepFailed(f"{step.where}the callback answered failure: {answered.failure or 'no reason given'}")
        try:
            outputs = output_parameters.typed(step, answered.outputs, f"the callback for token {callback.token}")
        except ValueError as exc:
            raise StepFailed(f"{step.where}{exc}") from None
        return StepResult({"OutputParameters": outputs, "CallbackToken": callback.token, "SqsQueueUrl": queue_url})

    @staticmethod
    def _waiting(context: StepContext, token: str):
        found = context.callbacks.find(token)
        if found is None:
            raise StepFailed(f"{context.step.where}callback token {token} is gone (the emulator was reset)")
        return found

    def metadata(self, step: StepRecord) -> dict:
        properties = step.properties or {}
        if "CallbackToken" not in properties:
            return {}
        outputs = [{"Name": name, "Value": str(value)} for name, value in properties["OutputParameters"].items()]
        return {
            "Callback": {
                "CallbackToken": properties["CallbackToken"],
                "SqsQueueUrl": properties["SqsQueueUrl"],
                "OutputParameters": outputs,
            }
        }


def _local_queue(sqs, queue_url: str, where: str) -> str:
    """The emulator's URL of the queue the definition names (by its AWS URL: account and queue name)."""
    parts = urlsplit(queue_url).path.strip("/").split("/")
    request = {"QueueName": parts[-1], **({"QueueOwnerAWSAccountId": parts[0]} if len(parts) == 2 else {})}
    try:
        return sqs.get_queue_url(**request)["QueueUrl"]
    except ClientError:
        raise UserError(
            f"{where}SqsQueueUrl {queue_url}: the emulator has no queue {parts[-1]}; create it first "
            f"(aws sqs create-queue --queue-name {parts[-1]}, against the emulator)"
        ) from None
