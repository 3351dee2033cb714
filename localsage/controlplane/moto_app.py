"""moto's WSGI application, built as `python -m moto.server` builds it, and moto's IAM authorization switched on for
the requests an assumed role signs: the one place the control plane relies on moto's server module, settings and
backends. tests/controlplane/test_moto_app.py fails loudly, naming the moto version, if any of them moves.

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

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from moto import settings
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import lambda_backends
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

TESTED_MOTO_VERSION = "5.2.5"
REQUEST_HANDLER = MotoRequestHandler
# moto evaluates an S3 request against the bucket's and the object's ARN; for other services it evaluates every
# request against "*", so a policy scoped to resource ARNs (as least privilege asks) would be refused there.
ENFORCED_SERVICES = frozenset({"s3"})
ENFORCING = 0


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
    """Signed with temporary credentials (an assumed role's: they come with a session token) for a checked service."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "HTTP_X_AMZ_SECURITY_TOKEN" not in environ or "Credential=" not in authorization:
        return False
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return len(scope) > 3 and scope[3] in ENFORCED_SERVICES


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
