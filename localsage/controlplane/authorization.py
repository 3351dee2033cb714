"""An assumed role's requests are judged by its policies, with the resource ARNs IAM would use.

moto judges S3 requests itself (moto_app.RoleAuthorization), but for HeadBucket, which it names by an action IAM
does not have: that one is judged here, as IAM does, as s3:ListBucket. For the services below, which moto would judge
against "*" only, the emulator judges a request that temporary credentials from its STS sign before it is served:
each Permission the request needs (localsage.facts.permissions: its action, resources and passed roles) must be
allowed by the role's policies, else the answer is AccessDenied, worded as AWS words it. Requests signed with the
emulator's own credentials are never judged, nor are other services', nor those of a session whose role the
emulator does not hold (moto's AssumeRole answers for any role name; the CDK CLI assumes CDK's deploy role).
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs
from xml.etree import ElementTree

from localsage.controlplane import moto_app
from localsage.facts.permissions import Lookups, Permission, request_permissions

JUDGED_SERVICES = frozenset({"sagemaker", "athena", "glue", "iam", "sts", "cloudformation", "sns"})
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})  # IAM allows it whatever the policies say
QUERY_NAMESPACE = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
}
DENIED_CODE = {"sns": "AuthorizationError"}  # each query-protocol service's word for it; the others say AccessDenied


def refusal(environ: dict, body: bytes, account: str, start_response) -> list[bytes] | None:
    """AccessDenied for a judged request the signing role may not make (already answered), else None: serve it."""
    signed = moto_app.temporary_signature(environ)
    if signed is None:
        return None
    access_key_id, region, service = signed
    head_bucket = _head_bucket(environ) if service == "s3" else None
    if service not in JUDGED_SERVICES and head_bucket is None:
        return None
    principal = moto_app.assumed_role(account, access_key_id, environ["HTTP_X_AMZ_SECURITY_TOKEN"])
    if principal is None:
        return None  # credentials moto's STS did not give out: moto answers them as it does
    session_arn, role_arn = principal
    policies = moto_app.role_policies(account, role_arn)
    if policies is None:
        return None  # moto's STS gives out credentials for roles it does not hold: nothing to judge them by
    if head_bucket is not None:
        # moto judges HeadBucket as "s3:HeadBucket", an action IAM does not have: IAM asks for s3:ListBucket.
        permission = Permission("s3:ListBucket", f"arn:aws:s3:::{head_bucket}")
        if moto_app.decision(policies, permission.action, permission.resource, {}) != moto_app.ALLOWED:
            start_response("403 Forbidden", [("Content-Length", "0")])  # a HEAD answer has no body
            return [b""]
        environ[moto_app.JUDGED] = True
        return None
    operation, request = _operation(environ, body)
    if operation is None or f"{service}:{operation}" in ALWAYS_ALLOWED:
        return None

    lookups = Lookups(
        workgroup_of=lambda query: moto_app.athena_workgroup(account, region, query),
        stack_arn_of=lambda name: moto_app.stack_arn(account, region, name),
    )
    for permission in request_permissions(service, operation, request, region, account, lookups):
        if moto_app.decision(policies, permission.action, permission.resource, permission.context) != moto_app.ALLOWED:
            return _denied(service, session_arn, permission, start_response)
    return None


def denial_message(principal: str, permission: Permission) -> str:
    """IAM's wording, which tools and people search for."""
    return (
        f"User: {principal} is not authorized to perform: {permission.action} on resource: {permission.resource} "
        f"because no identity-based policy allows the {permission.action} action"
    )


def _head_bucket(environ: dict) -> str | None:
    """The bucket a HeadBucket request names (path style, or virtual-hosted on the emulator's host), else None."""
    if environ.get("REQUEST_METHOD") != "HEAD":
        return None
    path = environ.get("PATH_INFO", "").strip("/")
    host = environ.get("HTTP_HOST", "").split(":", 1)[0]
    if host.endswith(".localhost"):
        return host.removesuffix(".localhost") if not path else None
    return path if path and "/" not in path else None


def _operation(environ: dict, body: bytes) -> tuple[str | None, dict]:
    """The operation and its request: from X-Amz-Target and a JSON body, or from a query-protocol form."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        return target.rsplit(".", 1)[-1], request if isinstance(request, dict) else {}
    form = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
    return form.pop("Action", None), form


def query_error(namespace: str, code: str, message: str) -> bytes:
    """An error in the query protocol's XML (IAM, STS)."""
    response = ElementTree.Element("ErrorResponse", xmlns=namespace)
    error = ElementTree.SubElement(response, "Error")
    ElementTree.SubElement(error, "Type").text = "Sender"
    ElementTree.SubElement(error, "Code").text = code
    ElementTree.SubElement(error, "Message").text = message
    ElementTree.SubElement(response, "RequestId").text = str(uuid.uuid4())
    return ElementTree.tostring(response, encoding="utf-8", xml_declaration=True)


def _denied(service: str, principal: str, permission: Permission, start_response) -> list[bytes]:
    message = denial_message(principal, permission)
    if service in QUERY_NAMESPACE:
        payload = query_error(QUERY_NAMESPACE[service], DENIED_CODE.get(service, "AccessDenied"), message)
        status, headers = "403 Forbidden", [("Content-Type", "text/xml")]
    else:
        payload = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
        status = "400 Bad Request"
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "AccessDeniedException")]
    start_response(status, [*headers, ("Content-Length", str(len(payload)))])
    return [payload]
