"""SageMaker endpoints in the emulator: moto keeps their Create/Describe/Delete records, the control plane hosts
each endpoint's model (one worker per endpoint: `localsage.runner.endpoints.host`) and answers InvokeEndpoint
(sagemaker-runtime) from it.

CreateEndpoint starts the endpoint's worker once moto has recorded it; DescribeEndpoint and ListEndpoints show the
true status (Creating while the model loads, InService, or Failed with its reason); DeleteEndpoint stops the
worker and its server. After a restart of the emulator, every endpoint it still has is hosted again.
"""

from __future__ import annotations

import re

import requests

from localsage.adapters import loopback
from localsage.adapters.processes import alive
from localsage.controlplane.plane import Plane
from localsage.controlplane.protocol import ServiceError, check_request, invalid
from localsage.runner.endpoints import FAILED, IN_SERVICE, EndpointRecord

INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
INVOKE_TIMEOUT_S = 60  # SageMaker's limit for a real-time inference to answer


def refused(plane: Plane, name: str, request: dict) -> None:
    """What SageMaker refuses before moto sees it: a request its API model refuses (a name that is no name), and
    a second CreateEndpoint of a name (moto would replace the record, and the first endpoint's server would run on
    with nothing to stop it)."""
    check_request(name, request)
    if name == "CreateEndpoint" and plane.endpoints.find(request["EndpointName"]):
        raise invalid(f"Cannot create already existing endpoint {request['EndpointName']}.")


def created(plane: Plane, request: dict) -> None:
    record = EndpointRecord(request["EndpointName"])
    plane.endpoints.save(record)
    record.host_pid, record.host_started = plane.launch("endpoint", record.name)
    plane.endpoints.save(record)


def deleted(plane: Plane, request: dict) -> None:
    record = plane.endpoints.find(request["EndpointName"])
    if record is not None:
        plane.signal_runner(record.host_pid, record.host_started)
        plane.endpoints.forget(record.name)


def updated(plane: Plane, request: dict) -> None:
    """UpdateEndpoint: the endpoint is hosted again, with its new configuration's model."""
    deleted(plane, request)
    created(plane, request)


def forget_all(plane: Plane) -> None:
    """Stop every endpoint's server (an emulator reset)."""
    for record in plane.endpoints.all():
        deleted(plane, {"EndpointName": record.name})


def rehost(plane: Plane) -> int:
    """Host again every endpoint that was in service (after a restart); how many. A failed one stays failed."""
    records = [record for record in plane.endpoints.all() if record.status != FAILED]
    for record in records:
        created(plane, {"EndpointName": record.name})
    return len(records)


def _true_status(plane: Plane, endpoint: dict) -> dict:
    record = plane.endpoints.find(endpoint.get("EndpointName", ""))
    if record is not None and record.status != FAILED and not alive(record.host_pid, record.host_started):
        record.status, record.failure = FAILED, "its hosting process ended (see the emulator's workers.log)"
    if record is not None:
        endpoint["EndpointStatus"] = record.status
        if record.failure:
            endpoint["FailureReason"] = record.failure
    return endpoint


def described(plane: Plane, document: dict) -> dict:
    return _true_status(plane, document)


def listed(plane: Plane, document: dict) -> dict:
    document["Endpoints"] = [_true_status(plane, endpoint) for endpoint in document.get("Endpoints", [])]
    return document


AFTER_MOTO = {"CreateEndpoint": created, "DeleteEndpoint": deleted, "UpdateEndpoint": updated}
PATCHED = {"DescribeEndpoint": described, "ListEndpoints": listed}


def invoke(
    plane: Plane, name: str, body: bytes, content_type: str, accept: str, component: str | None = None
) -> tuple[bytes, str, str]:
    """The model's answer (body, content type) and the variant that gave it, as InvokeEndpoint returns them; an
    inference component (`component`) is recorded only, so naming one is refused, saying so."""
    if component:
        raise ServiceError(
            "ValidationError",
            f"Inference component {component} is recorded, not served, locally: invoke endpoint {name} without "
            "InferenceComponentName to reach the model of its production variant",
        )
    record = plane.endpoints.find(name)
    if record is None or record.status != IN_SERVICE or not record.port:
        state = "not found" if record is None else f"is {record.status}, not InService"
        raise ServiceError("ValidationError", f"Endpoint {name} of account {plane.account} {state}.")
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    try:
        answer = loopback.http.post(
            f"http://{loopback.HOST}:{record.port}/invocations", data=body, headers=headers, timeout=INVOKE_TIMEOUT_S
        )
    except requests.RequestException as exc:
        raise ServiceError(
            "ServiceUnavailable", f"Endpoint {name}: its model server did not answer ({exc})", 503
        ) from None
    if answer.status_code != 200:
        message = (
            f'Received server error ({answer.status_code}) from primary with message "{answer.text.strip()[:500]}". '
            f"See the endpoint's log in the emulator's state folder (runner/endpoints/{name.lower()}/logs)."
        )
        raise ServiceError("ModelError", message, 424)
    return answer.content, answer.headers.get("Content-Type", accept or content_type), record.variant or "AllTraffic"
