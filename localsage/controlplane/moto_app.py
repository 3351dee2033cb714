"""moto's WSGI application, built as `python -m moto.server` builds it, and moto's IAM authorization switched on for
the requests an assumed role signs: the one place the control plane relies on moto's server module, settings and
backends. tests/controlplane/test_moto_app.py fails loudly, naming the moto version, if any of them moves.

Policies: IAM's SimulatePrincipalPolicy, which moto lacks, is answered by the control plane
(localsage.controlplane.simulation) from the role moto holds (`role_policies`), judged by moto's own policy evaluator
(`decision`), with the resource ARN each question names. Requests to the other services an assumed role signs are
judged the same way (localsage.controlplane.authorization), with the role found from the credentials moto's STS
gave out (`assumed_role`), an Athena query's workgroup (`athena_workgroup`) and a stack's ARN (`stack_arn`).

Lambda code: moto keeps a function's zip package but its GetFunction gives no location to download it from (AWS
gives a presigned URL); `lambda_code` reads the package from moto's Lambda backend, for the emulator to serve.

Authorization: moto checks a request's signature and its principal's policies when its documented setting
`INITIAL_NO_AUTH_ACTION_COUNT` (the one `/moto-api/reset-auth` sets) is 0, for every request at once. Here it is 0
only while a request that an assumed role's credentials signed (a step acting as its pipeline's execution role)
is served, and only for the services whose resources moto evaluates policies against (S3). Every other request,
the toolkit's own and any client's with the emulator's credentials, is served as before, never checked. Enforcing
requests hold the gate alone; the others share it.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from moto import settings
from moto.athena.models import athena_backends
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import lambda_backends
from moto.cloudformation.models import cloudformation_backends
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.sts.models import sts_backends

from localsage.facts.permissions import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY

TESTED_MOTO_VERSION = "5.2.5"
REQUEST_HANDLER = MotoRequestHandler
# moto evaluates an S3 request against the bucket's and the object's ARN; for other services it evaluates every
# request against "*", so a policy scoped to resource ARNs (as least privilege asks) would be refused there.
ENFORCED_SERVICES = frozenset({"s3"})
ENFORCING = 0
# Set on a request the control plane has judged already: moto then serves it unchecked.
JUDGED = "localsage.judged"


def moto_application():
    """Every moto backend behind one WSGI application, dispatched by host and path as the moto server does."""
    return RoleAuthorization(DomainDispatcherApplication(create_backend_app))


def lambda_code(account: str, region: str, function: str, qualifier: str | None) -> bytes | None:
    """The zip package of a function moto holds, or None when it has none (an image function, or no such one)."""
    try:
        found = lambda_backends[account][region].get_function(function, qualifier)
    except LambdaClientError:
        return None
    return found.code_bytes or None


def role_policies(role_arn: str) -> list | None:
    """The policies of a role moto holds, in the account its ARN names (inline documents, then attached managed
    policies), or None for no such role."""
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[4]:
        return None
    try:
        role = iam_backends[parts[4]]["aws"].get_role_by_arn(role_arn)
    except NotFoundException:
        return None
    return [*list(role.policies.values()), *list(role.managed_policies.values())]


def assumed_role(access_key_id: str, session_token: str) -> tuple[str, str] | None:
    """(the session's ARN, the role's ARN) of temporary credentials moto's STS gave out, in any account (moto keeps
    a session in the account of the role it assumed), or None for others."""
    for account, backends in list(sts_backends.items()):
        for assumed in list(backends["aws"].assumed_roles):
            if assumed.access_key_id == access_key_id and assumed.session_token == session_token:
                role_name = assumed.role_arn.rsplit("/", 1)[-1]
                return f"arn:aws:sts::{account}:assumed-role/{role_name}/{assumed.session_name}", assumed.role_arn
    return None


def role_arn(account: str, name: str) -> str | None:
    """The ARN of a role moto holds by that name (with its path), or None."""
    try:
        return iam_backends[account]["aws"].get_role(name).arn
    except NotFoundException:
        return None


def athena_workgroup(account: str, region: str, query_execution_id: str) -> str | None:
    """The workgroup an Athena query moto holds ran in (None: no such query, or moto's default)."""
    execution = athena_backends[account][region].executions.get(query_execution_id)
    workgroup = getattr(execution, "workgroup", None)
    return getattr(workgroup, "name", None)


def stack_arn(account: str, region: str, name: str) -> str | None:
    """The ARN (stack id) of a live stack moto holds by that name, or None."""
    for stack in list(cloudformation_backends[account][region].stacks.values()):
        if stack.name == name and stack.status != "DELETE_COMPLETE":
            return stack.stack_id
    return None


def decision(policies: list, action: str, resource: str, context: dict[str, str]) -> str:
    """IAM's verdict on one action and resource: an explicit Deny wins, else any Allow, else implicitly denied.

    moto's evaluator judges whether one statement matches (its actions, resources and StringEquals conditions).
    Around it, what moto gets wrong as IAM defines it: each statement is judged on its own (moto turns an Allow
    whose condition fails into a Deny); a statement whose condition names a key the request does not give does
    not apply (moto counts it as met); `NotResource` excludes what it names (moto ignores it); actions match
    whatever their case.
    """
    allowed = False
    for statement in _statements(policies):
        if not _applies(statement, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            return EXPLICIT_DENY
        allowed = True
    return ALLOWED if allowed else IMPLICIT_DENY


def _statements(policies: list) -> list[dict]:
    found = []
    for policy in policies:
        if isinstance(policy, str):
            document = json.loads(policy)
        else:  # an attached managed policy: its default version's document
            document = json.loads(next(v.document for v in list(policy.versions) if v.is_default))
        statements = document.get("Statement", [])
        found += statements if isinstance(statements, list) else [statements]
    return found


def _applies(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    if "NotResource" in statement:
        excluded = statement["NotResource"]
        if any(fnmatch.fnmatchcase(resource, pattern) for pattern in _listed(excluded)):
            return False
        statement = {**{k: v for k, v in statement.items() if k != "NotResource"}, "Resource": "*"}
    for operator, values in (statement.get("Condition") or {}).items():
        if not operator.endswith("IfExists") and operator != "Null" and any(key not in context for key in values):
            return False
    probe = {**statement, "Effect": "Allow"}
    for element in ("Action", "NotAction"):
        if element in probe:
            probe[element] = [name.lower() for name in _listed(probe[element])]
    document = json.dumps({"Version": "2012-10-17", "Statement": [probe]})
    result = IAMPolicy(document).is_action_permitted(action.lower(), resource, incoming_condition_values=context)
    return result == PermissionResult.PERMITTED


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class RoleAuthorization:
    """The moto application, with IAM authorization on for the requests `enforced` selects (see the module)."""

    def __init__(self, application):
        self.application = application
        self.gate = _Gate()

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        if not enforced(environ):
            with self.gate.shared():
                return list(self.application(environ, start_response))
        with self.gate.alone():
            previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
            settings.INITIAL_NO_AUTH_ACTION_COUNT = ENFORCING
            try:
                return list(self.application(environ, start_response))
            finally:
                settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


def enforced(environ: dict) -> bool:
    """Signed with temporary credentials (an assumed role's) for a service moto judges, and not judged already."""
    signed = temporary_signature(environ)
    return signed is not None and signed[2] in ENFORCED_SERVICES and not environ.get(JUDGED)


def temporary_signature(environ: dict) -> tuple[str, str, str] | None:
    """(access key id, region, service) of a request signed with temporary credentials (they come with a session
    token), else None."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "HTTP_X_AMZ_SECURITY_TOKEN" not in environ or "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return (scope[0], scope[2], scope[3]) if len(scope) > 3 else None


class _Gate:
    """Many at once, or one alone; one waiting to be alone goes before those who come after it."""

    def __init__(self):
        self._condition = threading.Condition()
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._condition:
            self._waiting_alone += 1
            self._condition.wait_for(lambda: not self._alone and not self._sharing)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._condition:
                self._alone = False
                self._condition.notify_all()
