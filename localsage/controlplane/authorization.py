"""An assumed role's requests are judged by its policies, with the resource ARNs IAM would use.

moto judges S3 requests itself (moto_app.RoleAuthorization), but for HeadBucket, which it names by an action IAM
does not have: that one is judged here, as IAM does, as s3:ListBucket. For the services below, which moto would
judge against "*" only, the emulator judges a request that temporary credentials from its STS sign before it is
served: each Permission the request needs (localsage.facts.permissions: its action, resources and passed roles)
must be allowed by the role's policies (moto_app.decision), else the answer is AccessDenied, worded as IAM words it.

Not judged, and served as moto serves them: requests signed with the emulator's own credentials, other services',
a session whose role the emulator does not hold (moto's AssumeRole answers for any role name; the CDK CLI assumes
CDK's deploy role), credentials moto's STS never gave out (or gave out before a reset), and SageMaker's REST
requests other than InvokeEndpoint (feature store and metrics runtimes).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from localsage.controlplane import moto_app
from localsage.controlplane.endpoints import INVOCATIONS
from localsage.controlplane.protocol import QUERY_NAMESPACE, ServiceError, error_response, query_error_response
from localsage.facts.permissions import ALLOWED, Lookups, Permission, request_permissions

JUDGED_SERVICES = frozenset({"sagemaker", "athena", "glue", "iam", "sts", "cloudformation", "sns"})
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})  # IAM allows it whatever the policies say
DENIED_CODE = {"sns": "AuthorizationError"}  # a query-protocol service's own word; the others say AccessDenied


def refusal(environ: dict, body: bytes, account: str, start_response) -> list[bytes] | None:
    """AccessDenied for a judged request the signing role may not make (already answered), else None: serve it."""
    signed = moto_app.temporary_signature(environ)
    if signed is None:
        return None
    access_key_id, region, service = signed
    head_bucket = _head_bucket(environ) if service == "s3" else None
    if service not in JUDGED_SERVICES and head_bucket is None:
        return None
    principal = moto_app.assumed_role(access_key_id, environ["HTTP_X_AMZ_SECURITY_TOKEN"])
    if principal is None:
        return None
    session_arn, role_arn = principal
    policies = moto_app.role_policies(role_arn)
    if policies is None:
        return None
    if head_bucket is not None:
        # moto judges HeadBucket as "s3:HeadBucket", an action IAM does not have: IAM asks for s3:ListBucket.
        if moto_app.decision(policies, "s3:ListBucket", f"arn:aws:s3:::{head_bucket}", {}) != ALLOWED:
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
        role_arn_of=lambda name: moto_app.role_arn(account, name),
    )
    for permission in request_permissions(service, operation, request, region, account, lookups):
        if moto_app.decision(policies, permission.action, permission.resource, permission.context) != ALLOWED:
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
    """The operation and its request: from X-Amz-Target and a JSON body, from a query-protocol form, or (the one
    REST request of SageMaker's judged here) InvokeEndpoint from its path."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        return target.rsplit(".", 1)[-1], request if isinstance(request, dict) else {}
    invocation = INVOCATIONS.match(environ.get("PATH_INFO", ""))
    if invocation:
        return "InvokeEndpoint", {"EndpointName": invocation["name"]}
    if "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None, {}
    form = {key: values[0] for key, values in parse_qs(body.decode(errors="replace")).items()}
    return form.pop("Action", None), form


def _denied(service: str, principal: str, permission: Permission, start_response) -> list[bytes]:
    message = denial_message(principal, permission)
    if service in QUERY_NAMESPACE:
        error = ServiceError(DENIED_CODE.get(service, "AccessDenied"), message, 403)
        return query_error_response(start_response, service, error)
    return error_response(start_response, ServiceError("AccessDeniedException", message, 400))
