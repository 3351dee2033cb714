"""Where AWS calls go: the local emulator (loopback, fake credentials, refused otherwise) or real AWS.

Everything talks to AWS through plain boto3 configured by the standard environment variables
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID` ...), so the SageMaker SDK, the CDK CLI, step processes and
code written for `localstack-client` (`LOCALSTACK_HOST`) all reach the same endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.model
import botocore.session

from localsage.errors import UserError
from localsage.facts.config import LOCAL_ACCOUNT_ID
from localsage.facts.endpoints import loopback_problem

FAKE_ACCESS_KEY_ID = "test"
FAKE_SECRET_ACCESS_KEY = "test"
# Keys the emulators and localstack-client accept as "not a real credential".
FAKE_ACCESS_KEYS = frozenset({"test", "testing", "mock", "foobar", "key", "fake"})
# Variables that could send a local run to real AWS, or make boto3 read a profile with real keys.
CLEARED_IN_LOCAL_MODE = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def local_environment(endpoint: str, region: str, state_dir: Path) -> dict[str, str]:
    """The variables that point every AWS client of this process and its children at the emulator."""
    host_port = urlsplit(endpoint).netloc
    empty_config = state_dir / "aws-config-empty"
    empty_config.touch()
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # The user's ~/.aws files may hold real keys, profiles or endpoints: read an empty file instead.
        "AWS_CONFIG_FILE": str(empty_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty_config),
        "AWS_EC2_METADATA_DISABLED": "true",
        "LOCALSTACK_HOST": host_port,
        # ModelTrainer() would validate its role with IAM SimulatePrincipalPolicy and refuse grants made under
        # conditions; locally each step's requests are checked as its role instead (adapters/roles.py).
        "SAGEMAKER_VALIDATE_ROLE": "false",
        "CDK_DEFAULT_ACCOUNT": LOCAL_ACCOUNT_ID,
        "CDK_DEFAULT_REGION": region,
        **no_proxy_environment(),
    }


# What a client outside the toolkit needs to reach the emulator (`./dev emulator.env` prints it).
CLIENT_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "SAGEMAKER_VALIDATE_ROLE",
    "NO_PROXY",
    "no_proxy",
)


def client_environment(endpoint: str, region: str, state_dir: Path) -> dict[str, str]:
    return {
        name: value
        for name, value in local_environment(endpoint, region, state_dir).items()
        if name in CLIENT_VARIABLES
    }


def no_proxy_environment() -> dict[str, str]:
    """Loopback bypasses any HTTP(S)_PROXY the user set: local traffic must never leave the machine."""
    loopback = ["localhost", "127.0.0.1", "::1"]
    existing = [host for host in os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")).split(",") if host]
    value = ",".join(dict.fromkeys([*loopback, *existing]))
    return {"NO_PROXY": value, "no_proxy": value}


def enter_local_mode(endpoint: str, region: str, state_dir: Path) -> None:
    """Point this process (and every child it starts) at the emulator, then prove nothing can reach AWS."""
    refuse_remote_endpoints(os.environ)
    for name in CLEARED_IN_LOCAL_MODE:
        os.environ.pop(name, None)
    os.environ.update(local_environment(endpoint, region, state_dir))
    check_local_environment(os.environ)


def refuse_remote_endpoints(environ: Mapping[str, str]) -> None:
    """A non-loopback endpoint set by the user is a mistake in local mode: refuse rather than override it."""
    for name, value in sorted(environ.items()):
        problem = loopback_problem(value) if name.startswith("AWS_ENDPOINT_URL") and value else None
        if problem:
            raise UserError(
                f"{name}={value} is not a loopback address ({problem}): local tasks only talk to the local "
                f"emulator; unset {name}, or pass --aws to target real AWS"
            )


def check_local_environment(environ: Mapping[str, str]) -> None:
    """The safety rail: every endpoint is loopback and the credentials are fake, or nothing runs."""
    endpoints = {k: v for k, v in environ.items() if k.startswith("AWS_ENDPOINT_URL") and v}
    if "AWS_ENDPOINT_URL" not in endpoints:
        raise UserError("AWS_ENDPOINT_URL is not set in local mode: start the emulator with './dev emulator.up'")
    refuse_remote_endpoints(endpoints)
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        raise UserError(
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true would send local calls to AWS: unset it for local tasks"
        )
    key = environ.get("AWS_ACCESS_KEY_ID", "")
    if key not in FAKE_ACCESS_KEYS:
        raise UserError(
            f"AWS_ACCESS_KEY_ID looks like a real key ({key[:4]}...): local tasks use fake credentials only; "
            "unset it, or pass --aws to target real AWS"
        )


@cache
def _service_data_loader() -> botocore.loaders.Loader:
    """One loader of botocore's service models for the whole process: each model (SageMaker's takes ~0.3 s to
    read) is read once, however many sessions and clients use it."""
    return botocore.loaders.create_loader()


def _core_session() -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _service_data_loader())
    return core


def session(region: str | None = None, credentials: Mapping[str, str] | None = None) -> boto3.Session:
    """A boto3 session that shares this process's service models (`_service_data_loader`); with `credentials`
    (AssumeRole's AccessKeyId, SecretAccessKey and SessionToken) it signs with those."""
    keys = {}
    if credentials is not None:
        keys = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
    return boto3.Session(botocore_session=_core_session(), region_name=region, **keys)


@cache
def service_model(service: str) -> botocore.model.ServiceModel:
    """A service's API model (operations and shapes), from the shared loader."""
    return _core_session().get_service_model(service)


def load_models(services: Iterable[str], region: str = "us-east-1") -> None:
    """Read these services' models (API, endpoints, retries) into this process's shared loader by making a client
    of each that never sends a request: a process forked afterwards makes its own clients without reading them."""
    made = boto3.Session(
        botocore_session=_core_session(),
        region_name=region,
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
    )
    for service in services:
        made.client(service, endpoint_url="http://127.0.0.1:9")


def guarded_session(region: str, credentials: Mapping[str, str] | None = None) -> boto3.Session:
    """A boto3 session whose every request is checked to go to a loopback address before it is sent."""
    created = session(region, credentials)
    created.events.register("before-send", _refuse_non_loopback_request)
    return created


def _refuse_non_loopback_request(request, **_: object) -> None:
    problem = loopback_problem(request.url)
    if problem:
        shown = request.url.split("?")[0]
        raise UserError(f"refused a request to {shown} ({problem}): local mode only talks to loopback")
