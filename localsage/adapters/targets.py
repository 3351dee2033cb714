"""The two places a task can act on: the local emulator (the default) or real AWS (explicit `--aws`).

A target also carries what differs between the two beyond the endpoint: SageMaker emits model package
state change events in AWS, the emulator does not, so the local target emits them itself.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from localsage.adapters import aws
from localsage.adapters.emulators.selection import emulator_for
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.facts.endpoints import is_loopback_url


@dataclass(frozen=True)
class Target:
    """Where AWS calls go, with the account and derived names that apply there."""

    kind: str  # "local" or "aws"
    root: Path
    config: project_config.ProjectConfig
    account: str
    endpoint: str | None = None
    # An assumed role's credentials, on the emulator (`as_role`): requests sign as the role, and stay on loopback.
    credentials: dict | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def bucket(self) -> str:
        return self.config.bucket_name(self.account)

    def session(self) -> boto3.Session:
        """One session per target (creating sessions costs ~0.1 s each); in local mode, guarded."""
        with self._lock:
            if "session" not in self._cache:
                if self.credentials is not None:
                    aws.check_local_environment(os.environ)
                    self._cache["session"] = aws.guarded_session(self.region, self.credentials)
                elif self.is_local:
                    aws.check_local_environment(os.environ)
                    self._cache["session"] = aws.guarded_session(self.region)
                else:
                    self._cache["session"] = aws.session(self.region)
            return self._cache["session"]

    def client(self, service: str):
        """A client per service, shared (boto3 clients are thread-safe; creating them is not)."""
        session = self.session()
        with self._lock:
            if service not in self._cache:
                self._cache[service] = session.client(service)
            return self._cache[service]

    def warm_up(self, services: Iterable[str]) -> threading.Thread:
        """Create these clients in the background: each costs tens of milliseconds of CPU, which the time a run
        spends waiting for its steps has to spare."""
        thread = threading.Thread(target=self._make_clients, args=(list(services),), name="clients", daemon=True)
        thread.start()
        return thread

    def _make_clients(self, services: list[str]) -> None:
        for name in services:
            try:
                self.client(name)
            except Exception:
                # Only an early start: a client not made here (e.g. botocore read os.environ while another
                # thread changed it) is made on first use, in the caller's thread, where an error is reported.
                continue

    def ensure_bucket(self) -> None:
        """Create the artefact bucket in the emulator when missing; in AWS the ML platform stack owns it."""
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if not self.is_local:
                code = exc.response["Error"].get("Code")
                raise UserError(
                    f"artefact bucket {self.bucket} is not reachable in AWS ({code}): deploy the ML platform stack"
                ) from None
        s3.create_bucket(Bucket=self.bucket, **self.config.bucket_location())

    def model_package_changed(self, model_package_arn: str, say: Callable[[str], None] = print) -> object | None:
        """A model package was registered or its approval changed: in AWS, SageMaker emits the state change
        event itself; the emulator does not, so the local target emits it and delivers the rule's message.

        Returns the local delivery (None when nothing was delivered, and always in AWS).
        """
        if not self.is_local:
            return None
        from localsage.adapters import local_events

        return local_events.model_package_changed(self, model_package_arn, say)


def local(root: Path | None = None, say: Callable[[str], None] = print) -> Target:
    """Start the emulator if needed and point this process and its children at it (never at AWS)."""
    root = root or project_config.project_root()
    settings = project_config.load(root)
    aws.refuse_remote_endpoints(os.environ)
    endpoint = emulator_for(root, settings, say).endpoint()
    aws.enter_local_mode(endpoint, settings.region, project_config.local_dir(root))
    return Target("local", root, settings, LOCAL_ACCOUNT_ID, endpoint)


def real_aws(root: Path | None = None) -> Target:
    """Real AWS with the caller's own credentials; only reached through an explicit `--aws` flag."""
    root = root or project_config.project_root()
    settings = project_config.load(root)
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and is_loopback_url(endpoint):
        raise UserError(
            f"--aws was given but AWS_ENDPOINT_URL={endpoint} points at a local emulator: unset it to target AWS"
        )
    try:
        identity = boto3.Session(region_name=settings.region).client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise UserError(f"--aws: no usable AWS credentials ({exc}): log in (e.g. 'aws sso login') first") from None
    account = identity["Account"]
    if settings.account and settings.account != account:
        raise UserError(
            f"--aws: your credentials are for account {account} but project.toml names {settings.account}: "
            "switch credentials or fix project.account"
        )
    return Target("aws", root, settings, account)


def as_role(local_target: Target, credentials: dict) -> Target:
    """The AWS code paths (those `--aws` takes) on the local emulator, signed with a role's temporary credentials
    from the emulator's STS: a command CodeBuild runs as a role, replayed as that role, whose every request the
    emulator judges by the role's policies. Requests still go only to loopback."""
    if not local_target.is_local:
        raise UserError("acting as a role is a local replay: it needs the local emulator's target")
    return Target(
        "aws", local_target.root, local_target.config, local_target.account, local_target.endpoint, credentials
    )


def select(use_aws: bool, root: Path | None = None, say: Callable[[str], None] = print) -> Target:
    return real_aws(root) if use_aws else local(root, say)


def aws_chosen(local: bool, aws: bool) -> bool:
    """`--local` (the default) or `--aws`: both at once is a mistake worth one line."""
    if local and aws:
        raise UserError("--local and --aws exclude each other: pass one (local is the default)")
    return aws
