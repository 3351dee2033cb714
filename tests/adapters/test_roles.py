"""Assumed roles in the emulator: a job's session when its role exists there, one line when it does not."""

from __future__ import annotations

import json
import uuid

from localsage.adapters import roles

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def test_a_role_the_emulator_does_not_know_is_said_once_and_not_assumed(local_target):
    messages: list[str] = []
    arn = f"arn:aws:iam::000000000000:role/absent-{uuid.uuid4().hex[:8]}"
    assert roles.assume(local_target, arn, messages.append) is None
    assert roles.assume(local_target, arn, messages.append) is None
    assert messages == [
        f"permissions are not checked: role {arn} is not in the emulator ('./dev deploy --local' creates it from "
        "the CDK stack); jobs run with the emulator's credentials"
    ]


def test_a_known_role_is_assumed_once_and_its_credentials_sign_as_it(local_target):
    name = f"known-{uuid.uuid4().hex[:8]}"
    arn = local_target.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    session = roles.assume(local_target, arn, print)
    assert session is not None and roles.assume(local_target, arn, print) is session
    assert set(session.environment()) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"].startswith(f"arn:aws:sts::000000000000:assumed-role/{name}/")
    assert roles.assume(local_target, None, print) is None
