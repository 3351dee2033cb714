"""No request leaves loopback, and the emulator never holds the caller's credentials."""

from __future__ import annotations

import os
import socket
import threading

import psutil
import pytest

from localsage.adapters import aws
from localsage.adapters.emulators.moto import MotoEmulator
from localsage.errors import UserError
from localsage.facts.config import EmulatorSettings

ENDPOINT = "http://localhost:4566"


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.2:18080\\@localhost:4566",
        "http://user:secret@localhost:4566",
        "http://localhost:4566@192.0.2.2",
        "http://local%68ost:4566",
        "http://localhost :4566",
        "http://0x7f000001:4566",
    ],
    ids=["backslash-userinfo", "userinfo", "host-after-at", "percent-host", "space", "hex-ip"],
)
def test_an_endpoint_parsers_could_read_two_ways_is_refused_naming_the_variable(url):
    with pytest.raises(UserError, match=r"AWS_ENDPOINT_URL_S3=.* is not a loopback address \("):
        aws.check_local_environment(
            {"AWS_ENDPOINT_URL": ENDPOINT, "AWS_ENDPOINT_URL_S3": url, "AWS_ACCESS_KEY_ID": "test"}
        )


def test_the_backslash_trick_sends_nothing_anywhere(monkeypatch):
    """The reported bypass, end to end: nothing connects to the address hidden before the backslash."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    connected: list[bool] = []
    done = threading.Event()

    def accept() -> None:  # until the test is done: a connection, if any came, is recorded
        while not done.is_set():
            try:
                listener.accept()[0].close()
            except TimeoutError:
                continue
            connected.append(True)

    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    port = listener.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.2:{port}\\@localhost:4566")
    with pytest.raises(UserError, match="AWS_ENDPOINT_URL_S3"):
        aws.refuse_remote_endpoints(os.environ)
    done.set()
    watcher.join(timeout=5)
    listener.close()
    assert connected == []


def test_every_request_of_a_local_session_is_checked_before_it_is_sent():
    session = aws.guarded_session("us-east-1")
    client = session.client("s3", endpoint_url="http://192.0.2.2:9", aws_access_key_id="t", aws_secret_access_key="t")
    with pytest.raises(UserError, match=r"refused a request to http://192.0.2.2:9/ .*only talks to loopback"):
        client.list_buckets()


@pytest.fixture
def started_with_real_looking_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALSAGE_STATE_DIR", str(tmp_path / "state"))
    secrets = {
        "AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY01",
        "AWS_SECRET_ACCESS_KEY": "real-looking-secret",
        "AWS_SESSION_TOKEN": "real-looking-token",
        "AWS_PROFILE": "production",
        "HTTPS_PROXY": "http://proxy.example:3128",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    emulator = MotoEmulator(tmp_path, EmulatorSettings(port=port), say=lambda message: None)
    status = emulator.up()
    yield psutil.Process(status.record.pid).environ(), secrets
    emulator.down()


def test_the_emulator_starts_with_a_clean_environment(started_with_real_looking_credentials):
    environment, secrets = started_with_real_looking_credentials
    assert not set(secrets.values()) & set(environment.values())
    assert "AWS_PROFILE" not in environment and "AWS_SESSION_TOKEN" not in environment
    assert environment["AWS_ACCESS_KEY_ID"] in aws.FAKE_ACCESS_KEYS
