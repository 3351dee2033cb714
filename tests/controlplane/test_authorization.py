"""moto's IAM authorization for what an assumed role signs: a role's S3 requests are allowed or denied by its
policies, driven with boto3 and the AWS CLI; requests with the emulator's own credentials are never checked."""

from __future__ import annotations

import json
import subprocess
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError
from clients_support import aws_cli, cli_environment

from localsage.controlplane.moto_app import enforced

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def role(local_target):
    """A role that may read the bucket and write only under allowed/, and its assumed credentials."""
    local_target.ensure_bucket()
    name = f"authz-{uuid.uuid4().hex[:8]}"
    iam = local_target.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    bucket = f"arn:aws:s3:::{local_target.bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket}/*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"{bucket}/allowed/*"},
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="steps", PolicyDocument=json.dumps(policy))
    credentials = local_target.client("sts").assume_role(RoleArn=arn, RoleSessionName="test")["Credentials"]
    return credentials


def role_client(local_target, credentials, service: str = "s3"):
    return boto3.client(
        service,
        endpoint_url=local_target.endpoint,
        region_name=local_target.region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def test_a_roles_s3_requests_are_allowed_and_denied_by_its_policies(local_target, role):
    s3 = role_client(local_target, role)
    s3.put_object(Bucket=local_target.bucket, Key="allowed/report.json", Body=b"{}")
    assert s3.get_object(Bucket=local_target.bucket, Key="allowed/report.json")["Body"].read() == b"{}"
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket=local_target.bucket, Key="elsewhere/report.json", Body=b"{}")
    admin = local_target.client("s3")
    admin.put_object(Bucket=local_target.bucket, Key="elsewhere/report.json", Body=b"{}")  # never checked
    assert admin.get_object(Bucket=local_target.bucket, Key="elsewhere/report.json")["Body"].read() == b"{}"


def test_the_aws_cli_as_the_role_meets_the_same_policy(local_target, role, tmp_path):
    file = tmp_path / "model.txt"
    file.write_text("weights")
    environment = {
        **cli_environment(),
        "AWS_ACCESS_KEY_ID": role["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": role["SecretAccessKey"],
        "AWS_SESSION_TOKEN": role["SessionToken"],
    }
    allowed = subprocess.run(
        [aws_cli(), "s3", "cp", str(file), f"s3://{local_target.bucket}/allowed/cli.txt"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    denied = subprocess.run(
        [aws_cli(), "s3", "cp", str(file), f"s3://{local_target.bucket}/denied/cli.txt"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_only_temporary_credentials_for_a_checked_service_are_enforced():
    signed = "AWS4-HMAC-SHA256 Credential=ASIAX/20261202/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"
    assert enforced({"HTTP_AUTHORIZATION": signed.format("s3"), "HTTP_X_AMZ_SECURITY_TOKEN": "t"})
    assert not enforced({"HTTP_AUTHORIZATION": signed.format("s3")})
    assert not enforced({"HTTP_AUTHORIZATION": signed.format("sagemaker"), "HTTP_X_AMZ_SECURITY_TOKEN": "t"})
    assert not enforced({})
