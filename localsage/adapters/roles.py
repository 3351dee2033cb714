"""A job acts as its role, locally as in AWS: the role's credentials come from AssumeRole in the emulator.

In AWS a job's container and SageMaker's own transfers of its inputs and outputs hold its role's credentials,
so the role's policies decide what it may read and write. Locally the emulator checks the requests such
credentials sign (`controlplane/moto_app.py`), so a role that may not write where its job writes fails here,
with AccessDenied, before it fails in the cloud.

SageMaker Pipelines also makes each step's own request (CreateTrainingJob, CreateModelPackage ...) as the
pipeline's role; `refused` asks the emulator's IAM SimulatePrincipalPolicy whether that role may, with the
resource ARN and passed role the request names (localsage.facts.permissions).

A role the emulator does not know (no `./dev deploy --local` yet) cannot be checked: the job then runs with the
emulator's own credentials, and that is said once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from localsage.facts.permissions import ALLOWED, Permission

SESSION_NAME = "localsage-step"
DURATION_SECONDS = 12 * 3600  # the longest a role session lasts in AWS
RENEW_BEFORE_SECONDS = 3600
_sessions: dict[tuple[str, str], RoleSession] = {}
_said: set[tuple[str, str]] = set()
_lock = threading.Lock()


@dataclass
class RoleSession:
    """Temporary credentials of one role, and clients that sign with them."""

    role_arn: str
    credentials: dict  # AssumeRole's Credentials: AccessKeyId, SecretAccessKey, SessionToken, Expiration
    target: object  # localsage.adapters.targets.Target
    _clients: dict = field(default_factory=dict, repr=False)

    def client(self, service: str):
        with _lock:
            if service not in self._clients:
                self._clients[service] = self.target.session().client(
                    service,
                    aws_access_key_id=self.credentials["AccessKeyId"],
                    aws_secret_access_key=self.credentials["SecretAccessKey"],
                    aws_session_token=self.credentials["SessionToken"],
                )
            return self._clients[service]

    def environment(self) -> dict[str, str]:
        """The variables every AWS SDK and the CLI read credentials from (a job's processes get them)."""
        return {
            "AWS_ACCESS_KEY_ID": self.credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": self.credentials["SessionToken"],
        }

    @property
    def expires(self) -> float:
        return self.credentials["Expiration"].timestamp()


def assume(target, role_arn: str | None, say: Callable[[str], None]) -> RoleSession | None:
    """The role's session on the local `target` (shared while valid), or None: in AWS (SageMaker assumes it there),
    without a role, or when the emulator does not know the role (said once per role)."""
    if not target.is_local or not isinstance(role_arn, str) or not role_arn:
        return None
    key = (target.endpoint, role_arn)
    with _lock:
        known = _sessions.get(key)
    if known is not None and known.expires - time.time() > RENEW_BEFORE_SECONDS:
        return known
    if not _checkable(target, role_arn, say):
        return None
    assumed = target.client("sts").assume_role(
        RoleArn=role_arn, RoleSessionName=SESSION_NAME, DurationSeconds=DURATION_SECONDS
    )
    session = RoleSession(role_arn, assumed["Credentials"], target)
    with _lock:
        _sessions[key] = session
    return session


def refused(target, role_arn: str | None, needed: list[Permission], say: Callable[[str], None]) -> list[str]:
    """What IAM would refuse the role of `needed`, one line each as AWS words it (empty when all is allowed), from
    the emulator's IAM SimulatePrincipalPolicy. Nothing is refused in AWS (IAM decides there), without a role, or
    when the emulator does not know the role (said once per role)."""
    if not needed or not _checkable(target, role_arn, say):
        return []
    iam = target.client("iam")
    lines = []
    for permission in needed:
        context = [
            {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": "string"}
            for name, value in permission.context.items()
        ]
        results = iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=[permission.action],
            ResourceArns=[permission.resource],
            ContextEntries=context,
        )["EvaluationResults"]
        if any(result["EvalDecision"] != ALLOWED for result in results):
            lines.append(
                f"{role_arn} is not authorized to perform: {permission.action} on resource: {permission.resource}"
            )
    return lines


def _checkable(target, role_arn: str | None, say: Callable[[str], None]) -> bool:
    """A role the local emulator holds; one it does not hold is said once."""
    if not target.is_local or not isinstance(role_arn, str) or not role_arn:
        return False
    try:
        target.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise
        with _lock:
            first = (target.endpoint, role_arn) not in _said
            _said.add((target.endpoint, role_arn))
        if first:
            say(
                f"permissions are not checked: role {role_arn} is not in the emulator "
                "('./dev deploy --local' creates it from the CDK stack); jobs run with the emulator's credentials"
            )
        return False
    return True
