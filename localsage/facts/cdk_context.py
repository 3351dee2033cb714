"""The CDK context keys the app reads (infra/cdk.json or `./dev synth --context key=value`), checked once.

Every bad value stops synth with one line naming the context key and what to put there. The CDK app
(infra/app.py and infra/stacks) and the toolkit (deploys, the local notification rule) read the same values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from localsage.errors import UserError

CDK_JSON = Path("infra") / "cdk.json"
# The context key the toolkit sets to say which target a synth is for.
TARGET_KEY = "localsage:target"
# Lines the app prints on stderr for the toolkit to show (what synth left out, and why).
NOTE_PREFIX = "localsage-note: "
# The CDK bootstrap qualifier this project deploys with (the default of `cdk bootstrap`).
BOOTSTRAP_QUALIFIER = "hnb659fds"

TARGETS = ("aws", "local")
SOURCE_PROVIDERS = ("codestar", "codecommit")
DEFAULT_BYTES_SCANNED_CUTOFF = 1024**3
# Athena refuses cutoffs below 10 MB.
MIN_BYTES_SCANNED_CUTOFF = 10 * 1024**2

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_CODECOMMIT_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)/.+$")


@dataclass(frozen=True)
class SourceSettings:
    """Where CodePipeline takes the code from."""

    provider: str
    repository: str
    branch: str
    connection_arn: str = ""


@dataclass(frozen=True)
class InfraSettings:
    """The parsed context: what differs between deployments of the same project."""

    target: str = "aws"
    notify_experimental: bool = False
    notification_email: str = ""
    source: SourceSettings | None = None
    quicksight_principal_arns: tuple[str, ...] = ()
    athena_bytes_scanned_cutoff: int = DEFAULT_BYTES_SCANNED_CUTOFF

    @property
    def is_local(self) -> bool:
        return self.target == "local"


def cdk_json_context(root: Path) -> dict:
    """The `context` of the project's infra/cdk.json: feature flags and the project's own keys."""
    path = root / CDK_JSON
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("context", {})
    except FileNotFoundError:
        raise UserError(f"{CDK_JSON} is missing: the CDK app and the local notifications read it") from None
    except ValueError as exc:
        raise UserError(f"{CDK_JSON} is not valid JSON ({exc})") from None


def load(root: Path) -> InfraSettings:
    """The settings in the project's infra/cdk.json (without command-line context)."""
    return from_context(cdk_json_context(root).get)


# The project's own context keys (CDK's own are namespaced: `@aws-cdk/...`, `aws:cdk:...`, `cli-telemetry`).
KNOWN_KEYS = (
    TARGET_KEY,
    "notify_experimental",
    "notification_email",
    "source_provider",
    "source_connection_arn",
    "source_repository",
    "source_branch",
    "codecommit_repository",
    "quicksight_principal_arns",
    "athena_bytes_scanned_cutoff",
)
CDK_OWN_KEYS = ("cli-telemetry", "acknowledged-issue-numbers")


def check_keys(context: dict) -> None:
    """A key that is neither the project's nor namespaced as CDK's is a typo: one line listing the known ones."""
    for key in sorted(context):
        namespaced = key.startswith("@") or ":" in key or "/" in key or key in CDK_OWN_KEYS
        if not namespaced and key not in KNOWN_KEYS:
            raise UserError(f"CDK context {key} is unknown: the project's keys are {', '.join(KNOWN_KEYS)}")


def from_context(get) -> InfraSettings:
    """Parse the context through `get(key)` (e.g. `app.node.try_get_context`); None means not set."""
    target = _text(get, TARGET_KEY) or "aws"
    if target not in TARGETS:
        _fail(TARGET_KEY, target, f"use one of {', '.join(TARGETS)}")
    email = _text(get, "notification_email")
    if email and not _EMAIL.match(email):
        _fail("notification_email", email, "use one e-mail address such as team@example.com, or leave it unset")
    cutoff = _integer(get, "athena_bytes_scanned_cutoff", DEFAULT_BYTES_SCANNED_CUTOFF)
    if cutoff < MIN_BYTES_SCANNED_CUTOFF:
        _fail("athena_bytes_scanned_cutoff", cutoff, f"Athena's minimum is {MIN_BYTES_SCANNED_CUTOFF} bytes (10 MB)")
    return InfraSettings(
        target=target,
        notify_experimental=_flag(get, "notify_experimental"),
        notification_email=email,
        source=_source(get),
        quicksight_principal_arns=_principal_arns(get),
        athena_bytes_scanned_cutoff=cutoff,
    )


def _source(get) -> SourceSettings | None:
    connection_arn = _text(get, "source_connection_arn")
    codecommit_repository = _text(get, "codecommit_repository")
    provider = _text(get, "source_provider") or ("codecommit" if codecommit_repository else "codestar")
    if provider not in SOURCE_PROVIDERS:
        _fail("source_provider", provider, f"use one of {', '.join(SOURCE_PROVIDERS)}")
    branch = _text(get, "source_branch") or "main"
    if not _BRANCH.match(branch):
        _fail("source_branch", branch, "use a branch name such as main")
    if provider == "codecommit":
        if not codecommit_repository:
            return _missing("codecommit_repository", "the CodeCommit repository name")
        if not _CODECOMMIT_REPOSITORY.match(codecommit_repository):
            _fail("codecommit_repository", codecommit_repository, "use letters, digits, '.', '_' and '-' only")
        return SourceSettings("codecommit", codecommit_repository, branch)
    repository = _text(get, "source_repository")
    if not connection_arn and not repository:
        return None
    if not connection_arn:
        return _missing("source_connection_arn", "the ARN of your CodeStar/CodeConnections connection")
    if not _CONNECTION_ARN.match(connection_arn):
        _fail(
            "source_connection_arn",
            connection_arn,
            "use arn:aws:codeconnections:<region>:<account>:connection/<uuid> (console: Developer Tools > Connections)",
        )
    if not repository or not _REPOSITORY.match(repository):
        _fail("source_repository", repository, "use owner/name (GitLab groups: group/subgroup/name)")
    return SourceSettings("codestar", repository, branch, connection_arn)


def _principal_arns(get) -> tuple[str, ...]:
    raw = get("quicksight_principal_arns")
    if raw in (None, "", []):
        return ()
    arns = [part.strip() for part in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
        _fail("quicksight_principal_arns", raw, "use a list of QuickSight user/group ARNs or a comma-separated string")
    for arn in arns:
        if not _PRINCIPAL_ARN.match(arn):
            _fail("quicksight_principal_arns", arn, "use arn:aws:quicksight:<region>:<account>:user/<namespace>/<name>")
    return tuple(arns)


def _text(get, key: str) -> str:
    value = get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(key, value, "use a string")
    return value.strip()


def _flag(get, key: str) -> bool:
    value = get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    _fail(key, value, "use true or false")


def _integer(get, key: str, default: int) -> int:
    value = get(key)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        _fail(key, value, "use a whole number")


def _missing(key: str, what: str) -> None:
    raise UserError(f"CDK context {key} is not set: set it to {what} in infra/cdk.json or with --context {key}=...")


def _fail(key: str, value: object, rule: str) -> None:
    raise UserError(f"CDK context {key}={value!r} is invalid: {rule}")
