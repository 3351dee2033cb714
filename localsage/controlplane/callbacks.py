"""SendPipelineExecutionStepSuccess and SendPipelineExecutionStepFailure: the answer to a waiting Callback step,
from any client, recorded for that step (localsage.runner.callbacks)."""

from __future__ import annotations

import threading

from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import check_request, invalid, not_found
from localsage.runner.callbacks import FAILED, SUCCEEDED, Callback

# The server answers requests on several threads: a token is checked and answered under this lock, so two
# answers at once cannot both pass the "answered once" check.
ANSWERING = threading.Lock()


def send_success(plane: Plane, request: dict) -> dict:
    with ANSWERING:
        callback = _waiting(plane, "SendPipelineExecutionStepSuccess", request)
        outputs = {item["Name"]: item["Value"] for item in request.get("OutputParameters", [])}
        plane.callbacks.answer(callback, SUCCEEDED, outputs, None)
    return {"PipelineExecutionArn": callback.execution_arn}


def send_failure(plane: Plane, request: dict) -> dict:
    with ANSWERING:
        callback = _waiting(plane, "SendPipelineExecutionStepFailure", request)
        plane.callbacks.answer(callback, FAILED, {}, request.get("FailureReason"))
    return {"PipelineExecutionArn": callback.execution_arn}


OPERATIONS = {
    "SendPipelineExecutionStepSuccess": send_success,
    "SendPipelineExecutionStepFailure": send_failure,
}


def _waiting(plane: Plane, operation: str, request: dict) -> Callback:
    check_request(operation, request)
    token = request["CallbackToken"]
    callback = plane.callbacks.find(token)
    if callback is None:
        raise not_found(f"Callback token {token} does not belong to any step of a pipeline execution.")
    if callback.outcome:
        raise invalid(f"Callback token {token} was already answered ({callback.outcome}): a step is answered once")
    return callback
