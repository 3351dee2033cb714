"""The wire format of SageMaker's API (AWS JSON 1.1, `X-Amz-Target: SageMaker.<Operation>`): reading a request,
writing a response or an error the way AWS does, so every SDK and the CLI parse it unchanged; and the errors of the
query-protocol services the emulator answers for itself (IAM, STS, CloudFormation, SNS: XML)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from xml.etree import ElementTree

from localsage.adapters import api_rules

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."
QUERY_NAMESPACE = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
}


class ServiceError(Exception):
    """An error SageMaker would answer: `code` is its error type (ValidationException, ResourceNotFound ...)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


def invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def check_request(operation_name: str, request: dict) -> None:
    """A ValidationException, as SageMaker answers it, for a request its API model refuses."""
    refused = api_rules.violations("sagemaker", operation_name, request)
    if refused:
        raise invalid(api_rules.summary(refused))


def operation(environ: dict) -> str | None:
    """The SageMaker operation a request calls, or None for any other request."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None


def json_response(start_response, status: int, document: dict, extra_headers: list | None = None) -> list[bytes]:
    body = json.dumps(document, default=_jsonable).encode()
    headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))), *(extra_headers or [])]
    start_response(f"{status} {'OK' if status < 300 else 'Error'}", headers)
    return [body]


def error_response(start_response, error: ServiceError) -> list[bytes]:
    return json_response(
        start_response,
        error.status,
        {"__type": error.code, "message": str(error)},
        [("x-amzn-ErrorType", error.code)],
    )


def xml_response(start_response, status: int, payload: bytes) -> list[bytes]:
    start_response(f"{status} {'OK' if status < 300 else 'Error'}",
                   [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])  # fmt: skip
    return [payload]


def query_error_response(start_response, service: str, error: ServiceError) -> list[bytes]:
    """An error in the query protocol's XML, as `service` (a key of QUERY_NAMESPACE) writes it."""
    response = ElementTree.Element("ErrorResponse", xmlns=QUERY_NAMESPACE[service])
    detail = ElementTree.SubElement(response, "Error")
    ElementTree.SubElement(detail, "Type").text = "Sender"
    ElementTree.SubElement(detail, "Code").text = error.code
    ElementTree.SubElement(detail, "Message").text = str(error)
    ElementTree.SubElement(response, "RequestId").text = str(uuid.uuid4())
    return xml_response(
        start_response, error.status, ElementTree.tostring(response, encoding="utf-8", xml_declaration=True)
    )


def _jsonable(value: object) -> object:
    """Timestamps as AWS JSON protocols send them: seconds since the epoch."""
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def page(items: list, request: dict, key: str, default_size: int = 100) -> dict:
    """One page of `items` under `key`, with a NextToken when more follow (the token is the next offset)."""
    start = int(request.get("NextToken") or 0)
    size = int(request.get("MaxResults") or default_size)
    document = {key: items[start : start + size]}
    if start + size < len(items):
        document["NextToken"] = str(start + size)
    return document
