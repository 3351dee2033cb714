"""The embedded emulator's lifecycle against a real moto server: ports, crashes, stale PIDs, state replay."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import boto3
import psutil
import pytest
from emulators_support import private_emulator

from localsage.adapters.emulators.moto import MotoEmulator


@pytest.fixture
def emulator(tmp_path, monkeypatch):
    """A private emulator in a temp state folder, stopped (by PID) after the test whatever happened."""
    messages: list[str] = []
    created = private_emulator(tmp_path, monkeypatch, messages.append)
    created.messages = messages
    yield created
    created.down()


def client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def s3(endpoint: str):
    return client("s3", endpoint)


def group_names(endpoint: str) -> list[str]:
    groups = client("sagemaker", endpoint).list_model_package_groups()["ModelPackageGroupSummaryList"]
    return [group["ModelPackageGroupName"] for group in groups]


def test_up_binds_loopback_records_state_and_is_idempotent(emulator):
    first = emulator.up()
    assert first.state == "running" and first.endpoint == f"http://localhost:{first.record.port}"
    listening = {c.laddr for c in psutil.Process(first.record.pid).net_connections() if c.status == "LISTEN"}
    assert {address.ip for address in listening} == {"127.0.0.1"}
    recorded = json.loads(emulator.state_file.read_text())
    assert recorded["pid"] == first.record.pid and recorded["port"] == first.record.port
    second = emulator.up()
    assert second.record.pid == first.record.pid
    assert emulator.status().state == "running"


def test_the_emulator_uses_the_fixed_local_account_id(emulator):
    endpoint = emulator.up().endpoint
    identity = client("sts", endpoint).get_caller_identity()
    assert identity["Account"] == "000000000000"


def test_a_taken_port_falls_back_to_a_free_one_and_says_so(emulator):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", emulator.settings.port))
        squatter.listen()
        status = emulator.up()
    assert status.record.port != emulator.settings.port
    assert any(f"port {emulator.settings.port} is taken" in message for message in emulator.messages)


def test_state_survives_a_sigkill_of_the_server(emulator):
    endpoint = emulator.up().endpoint
    client = s3(endpoint)
    client.create_bucket(Bucket="survivor-bucket")
    client.put_object(Bucket="survivor-bucket", Key="data/object.txt", Body=b"still here")
    os.kill(emulator.status().record.pid, signal.SIGKILL)
    time.sleep(0.2)
    assert emulator.status().state == "stale"
    restarted = emulator.up()
    assert "replayed" in restarted.detail
    body = s3(restarted.endpoint).get_object(Bucket="survivor-bucket", Key="data/object.txt")["Body"].read()
    assert body == b"still here"


def test_state_survives_down_and_up_and_is_replayed_once(emulator):
    client("sagemaker", emulator.up().endpoint).create_model_package_group(ModelPackageGroupName="kept-group")
    emulator.down()
    emulator.up()
    emulator.down()
    assert group_names(emulator.up().endpoint) == ["kept-group"]


def test_reset_erases_state(emulator):
    client = s3(emulator.up().endpoint)
    client.create_bucket(Bucket="doomed-bucket")
    emulator.reset()
    assert client.list_buckets()["Buckets"] == []
    emulator.down()
    assert s3(emulator.up().endpoint).list_buckets()["Buckets"] == []


def test_down_when_nothing_runs_is_a_clear_no_op(emulator):
    assert emulator.down() == "no emulator is running for this project; nothing to stop"


def test_down_never_kills_a_process_that_merely_reuses_the_recorded_pid(emulator):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        emulator.state_file.write_text(
            json.dumps(
                {
                    "pid": bystander.pid,
                    "create_time": psutil.Process(bystander.pid).create_time() - 1000,
                    "port": emulator.settings.port,
                    "endpoint": f"http://localhost:{emulator.settings.port}",
                    "started_at": "2026-01-01T00:00:00Z",
                    "recording": str(emulator.recording),
                }
            )
        )
        assert emulator.status().state == "stale"
        message = emulator.down()
        assert "is gone or is another process: left it alone" in message
        assert bystander.poll() is None
        assert not emulator.state_file.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_an_unreadable_state_file_is_treated_as_stale(emulator):
    emulator.state_file.write_text("{not json")
    assert emulator.status().state == "stopped"
    assert emulator.up().state == "running"


def test_a_crash_mid_recording_does_not_break_the_next_replay(emulator):
    client = s3(emulator.up().endpoint)
    client.create_bucket(Bucket="torn-bucket")
    emulator.down()
    with open(emulator.recording, "ab") as recording:
        recording.write(b'{"headers": {}, "method": "PUT", "url": "http://localhost/torn-bucket/x", "bo')
    restored = emulator.up()
    assert [b["Name"] for b in s3(restored.endpoint).list_buckets()["Buckets"]] == ["torn-bucket"]
    assert any("cut short by a crash" in message for message in emulator.messages)


def test_two_tasks_starting_the_emulator_at_once_get_one_server(emulator):
    from concurrent.futures import ThreadPoolExecutor

    twin = MotoEmulator(emulator.root, emulator.settings, say=lambda message: None)
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda each: each.up(), [emulator, twin])
    assert first.record.pid == second.record.pid
    assert emulator.status().state == "running"


def recorded_api_requests(emulator) -> list[str]:
    return emulator.recording.read_text().splitlines()


def test_probing_a_replayed_server_records_nothing_again(emulator):
    """The health probe is side-effect free: status checks during and after a replay add no requests, so a
    second restart replays exactly what the first one did (no duplicated model versions or messages)."""
    client("sagemaker", emulator.up().endpoint).create_model_package_group(ModelPackageGroupName="once")
    before = recorded_api_requests(emulator)
    emulator.down()
    emulator.up()
    for _ in range(3):
        assert emulator.status().healthy
    assert recorded_api_requests(emulator) == before
    emulator.down()
    assert group_names(emulator.up().endpoint) == ["once"]


def test_a_server_still_restoring_is_not_handed_out(emulator):
    """Until its replay ends the server is recorded as not ready: other tasks see it starting and wait for the
    start-up lock; a starter that died during the replay leaves a server the next `up` replaces."""
    first = emulator.up()
    record = json.loads(emulator.state_file.read_text())
    emulator.state_file.write_text(json.dumps({**record, "ready": False}))
    assert emulator.status().state == "starting" and not emulator.status().healthy
    replaced = emulator.up()
    assert replaced.state == "running" and replaced.record.pid != first.record.pid
    assert not psutil.pid_exists(first.record.pid) or psutil.Process(first.record.pid).status() == psutil.STATUS_ZOMBIE
