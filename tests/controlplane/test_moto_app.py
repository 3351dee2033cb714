"""The one moto server seam the control plane relies on: this fails loudly, naming the moto version, if it moves."""

from __future__ import annotations

import importlib.metadata

from moto import server, settings

from localsage.controlplane.moto_app import TESTED_MOTO_VERSION, moto_application


def test_the_moto_server_names_the_control_plane_builds_on_exist():
    installed = importlib.metadata.version("moto")
    for name in ("DomainDispatcherApplication", "MotoRequestHandler", "create_backend_app"):
        assert hasattr(server, name), (
            f"moto {installed}: moto.server.{name} moved (tested with {TESTED_MOTO_VERSION}); "
            "update localsage/controlplane/moto_app.py"
        )
    assert callable(moto_application())


def test_the_authorization_setting_the_control_plane_switches_exists():
    installed = importlib.metadata.version("moto")
    assert hasattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT"), (
        f"moto {installed}: moto.settings.INITIAL_NO_AUTH_ACTION_COUNT moved (tested with {TESTED_MOTO_VERSION}); "
        "update RoleAuthorization in localsage/controlplane/moto_app.py"
    )


def test_the_lambda_backend_the_code_location_reads_holds_the_package(local_target):
    """GetFunction's Code.Location is served from moto's Lambda backend: the package must come back byte for byte."""
    import io
    import secrets
    import zipfile

    import requests
    from definitions_support import deploy_function

    installed = importlib.metadata.version("moto")
    arn = deploy_function(local_target, f"fn-{secrets.token_hex(4)}", {"app.py": "def handler(e, c):\n    return {}\n"})
    location = local_target.client("lambda").get_function(FunctionName=arn)["Code"]["Location"]
    package = requests.get(location, timeout=10)
    assert package.status_code == 200, (
        f"moto {installed}: the Lambda backend no longer gives the function's code (tested with "
        f"{TESTED_MOTO_VERSION}); update lambda_code in localsage/controlplane/moto_app.py"
    )
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert archive.read("app.py").startswith(b"def handler")


def test_the_iam_backend_and_policy_evaluator_the_simulation_reads_still_answer():
    """moto's backends in this process (the emulator's server uses the same modules): a role's inline policy comes
    back and is judged per resource, an explicit Deny first; no such role is None."""
    import json

    from moto.iam.models import iam_backends

    from localsage.controlplane.moto_app import decision, role_arn, role_policies
    from localsage.facts.permissions import ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY

    installed = importlib.metadata.version("moto")
    account = "210987654321"
    backend = iam_backends[account]["aws"]
    role = backend.create_role(
        role_name="seam", assume_role_policy_document=json.dumps({"Version": "2012-10-17", "Statement": []}), path="/",
        permissions_boundary=None, description="", tags=[], max_session_duration=None,
    )  # fmt: skip
    statements = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret"},
    ]
    policy = {"Version": "2012-10-17", "Statement": statements}
    backend.put_role_policy("seam", "read", json.dumps(policy))
    moved = f"moto {installed}: the IAM backend or policy evaluator moved (tested with {TESTED_MOTO_VERSION}); "
    moved += "update role_policies and decision in localsage/controlplane/moto_app.py"
    policies = role_policies(role.arn)
    assert policies is not None and len(policies) == 1, moved
    assert decision(policies, "s3:GetObject", "arn:aws:s3:::b/key", {}) == ALLOWED, moved
    assert decision(policies, "s3:GetObject", "arn:aws:s3:::b/secret", {}) == EXPLICIT_DENY, moved
    assert decision(policies, "s3:PutObject", "arn:aws:s3:::b/key", {}) == IMPLICIT_DENY, moved
    assert role_policies(role.arn + "-gone") is None, moved
    assert role_arn(account, "seam") == role.arn and role_arn(account, "gone") is None, moved


def test_the_state_the_authorization_looks_up_is_where_moto_keeps_it():
    """The assumed roles of moto's STS, Athena's query executions and CloudFormation's stacks (the emulator finds a
    request's role, a query's workgroup and a stack's ARN there)."""
    from moto.athena.models import athena_backends
    from moto.cloudformation.models import cloudformation_backends
    from moto.sts.models import sts_backends

    from localsage.controlplane.moto_app import assumed_role, athena_workgroup, stack_arn

    installed = importlib.metadata.version("moto")
    moved = f"moto {installed}: %s moved (tested with {TESTED_MOTO_VERSION}); update localsage/controlplane/moto_app.py"
    account, region = "210987654321", "us-east-1"
    assert isinstance(sts_backends[account]["aws"].assumed_roles, list), moved % "STS assumed_roles"
    assert isinstance(athena_backends[account][region].executions, dict), moved % "Athena executions"
    assert isinstance(cloudformation_backends[account][region].stacks, dict), moved % "CloudFormation stacks"
    assert assumed_role("ASIANONE", "token") is None
    assert athena_workgroup(account, region, "no-such-query") is None
    assert stack_arn(account, region, "no-such-stack") is None
