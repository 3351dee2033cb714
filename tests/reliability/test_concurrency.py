"""Tasks at the same time: two runs of one pipeline both succeed; tasks that find the emulator starting wait for
it (after its replay); two writers of one state file both succeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import psutil
from conftest import REPO
from projects import copy_project

from localsage.adapters.emulators.moto import SERVER_MODULE
from localsage.facts.state_files import write_atomically

INVOKE = str(Path(sys.executable).with_name("invoke"))


def invoke(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [INVOKE, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_runs_of_the_same_pipeline_at_once_both_succeed(local_target, tmp_path):
    project = copy_project(tmp_path / "project", "concurrent")
    environment = {**os.environ, "LOCALSAGE_ROOT": str(project)}
    runs = [invoke("local-run", "--json", env=environment) for _ in range(2)]
    summaries = []
    for child in runs:
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr
        summaries.append(json.loads(stdout))
    assert {summary["status"] for summary in summaries} == {"Succeeded"}
    assert sorted(summary["model_package_version"] for summary in summaries) == [1, 2]


def test_tasks_that_find_the_emulator_starting_wait_for_one_restored_server(tmp_path):
    environment = {**os.environ, "LOCALSAGE_STATE_DIR": str(tmp_path / "state")}
    environment.pop("AWS_ENDPOINT_URL", None)
    try:
        subprocess.run([INVOKE, "emulator.up"], cwd=REPO, env=environment, check=True, capture_output=True)
        s3 = emulator_s3(tmp_path / "state")
        s3.create_bucket(Bucket="replayed")
        for number in range(300):  # enough recorded requests for the replay to take a moment
            s3.put_object(Bucket="replayed", Key=f"object-{number}", Body=b"x")
        subprocess.run([INVOKE, "emulator.down"], cwd=REPO, env=environment, check=True, capture_output=True)
        tasks = [invoke("models", "--json", env=environment) for _ in range(3)]
        outputs = [child.communicate(timeout=120) for child in tasks]
        assert [child.returncode for child in tasks] == [0, 0, 0], [stderr for _, stderr in outputs]
        assert emulator_s3(tmp_path / "state").list_objects_v2(Bucket="replayed")["KeyCount"] == 300
        owner = str((tmp_path / "state" / "emulator").resolve())
        servers = [
            process
            for process in psutil.process_iter(["cmdline"])
            if SERVER_MODULE in (process.info["cmdline"] or [])
            and process.environ().get("LOCALSAGE_EMULATOR_STATE") == owner
        ]
        assert len(servers) == 1
    finally:
        subprocess.run([INVOKE, "emulator.down"], cwd=REPO, env=environment, capture_output=True)


def emulator_s3(state: Path):
    endpoint = json.loads((state / "emulator" / "server.json").read_text())["endpoint"]
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def test_two_writers_of_one_state_file_both_succeed_and_leave_it_whole(tmp_path):
    path = tmp_path / "state.json"
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            for round_number in range(200):
                write_atomically(path, json.dumps({"writer": number, "round": round_number, "pad": "x" * 4000}))
        except BaseException as exc:  # noqa: BLE001 - the test reports any failure of a writer
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(number,)) for number in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert json.loads(path.read_text())["round"] == 199
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "no temporary file left behind"
