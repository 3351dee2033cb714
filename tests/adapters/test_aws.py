"""Local mode never reaches AWS: loopback endpoints and fake credentials, or nothing runs."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from localsage.adapters import aws
from localsage.errors import UserError


@pytest.fixture
def restored_environ():
    """enter_local_mode changes os.environ on purpose: put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def local_env(**changes):
    environment = {"AWS_ENDPOINT_URL": "http://localhost:4566", "AWS_ACCESS_KEY_ID": "test"}
    environment.update(changes)
    return environment


def test_a_remote_endpoint_is_refused_naming_the_variable():
    with pytest.raises(UserError, match=r"AWS_ENDPOINT_URL_S3=https://s3.amazonaws.com is not a loopback address"):
        aws.check_local_environment(local_env(AWS_ENDPOINT_URL_S3="https://s3.amazonaws.com"))


def test_a_real_looking_key_is_refused_without_printing_it():
    with pytest.raises(UserError) as raised:
        aws.check_local_environment(local_env(AWS_ACCESS_KEY_ID="AKIAABCDEFGHIJKLMNOP"))
    assert "AKIAABCDEFGHIJKLMNOP" not in str(raised.value)
    assert "fake credentials only" in str(raised.value)


def test_ignoring_configured_endpoints_is_refused():
    with pytest.raises(UserError, match="AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        aws.check_local_environment(local_env(AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true"))


def test_a_missing_endpoint_is_refused():
    with pytest.raises(UserError, match="AWS_ENDPOINT_URL is not set"):
        aws.check_local_environment({"AWS_ACCESS_KEY_ID": "test"})


def test_entering_local_mode_refuses_a_user_set_remote_endpoint_before_changing_anything(
    monkeypatch, tmp_path, restored_environ
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sagemaker.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    with pytest.raises(UserError, match="is not a loopback address"):
        aws.enter_local_mode("http://localhost:4566", "us-east-1", tmp_path)
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALKEY"


def test_entering_local_mode_replaces_profiles_and_real_keys(monkeypatch, tmp_path, restored_environ):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    aws.enter_local_mode("http://localhost:4566", "eu-west-1", tmp_path)
    environ = os.environ
    assert "AWS_PROFILE" not in environ and "AWS_SESSION_TOKEN" not in environ
    assert environ["AWS_ACCESS_KEY_ID"] == "test" and environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environ["LOCALSTACK_HOST"] == "localhost:4566"
    assert Path(environ["AWS_CONFIG_FILE"]).read_text() == ""


def test_the_guarded_session_refuses_to_send_anywhere_but_loopback():
    client = aws.guarded_session("us-east-1").client(
        "s3", endpoint_url="https://s3.amazonaws.com", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with pytest.raises(UserError, match="refused a request to https://s3.amazonaws.com/ "):
        client.list_buckets()


def test_boto3_and_localstack_client_conventions_reach_the_emulator(local_target):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="convention-check")
    assert s3.meta.endpoint_url == local_target.endpoint

    import localstack_client.session

    names = [b["Name"] for b in localstack_client.session.Session().client("s3").list_buckets()["Buckets"]]
    assert "convention-check" in names


def test_a_local_task_refuses_a_remote_endpoint_before_starting_anything(tmp_path, monkeypatch, restored_environ):
    from conftest import REPO

    from localsage.adapters import targets

    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://sagemaker.us-east-1.amazonaws.com")
    with pytest.raises(UserError, match="pass --aws to target real AWS"):
        targets.local(REPO)
    assert not (tmp_path / "emulator" / "server.json").exists()


def test_aws_mode_refuses_a_loopback_endpoint(monkeypatch, restored_environ):
    from conftest import REPO

    from localsage.adapters import targets

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    with pytest.raises(UserError, match="--aws was given but AWS_ENDPOINT_URL=http://localhost:4566"):
        targets.real_aws(REPO)


def test_local_traffic_bypasses_any_proxy(monkeypatch, tmp_path, restored_environ):
    import requests

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.com:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.com")
    aws.enter_local_mode("http://localhost:4566", "us-east-1", tmp_path)
    assert requests.utils.get_environ_proxies("http://localhost:4566") == {}
    assert "internal.example.com" in os.environ["NO_PROXY"]
