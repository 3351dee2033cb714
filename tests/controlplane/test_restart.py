"""The emulator killed (SIGKILL) during an execution: the running execution ends Failed, saying the emulator
stopped; earlier executions, their steps and jobs are intact after the restart, and nothing runs again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
from conftest import REPO
from definitions_support import CLUSTER, s3_input

INVOKE = str(Path(sys.executable).with_name("invoke"))
SLEEP = (
    b"import os, pathlib, time\n"
    b"pathlib.Path(os.environ['PID_FILE']).write_text(str(os.getpid()))\n"
    b"time.sleep(float(os.environ['SECONDS']))\n"
)
CODE = "/opt/ml/processing/input/code"


def client(state: Path, service: str):
    endpoint = json.loads((state / "emulator" / "server.json").read_text())["endpoint"]
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")  # fmt: skip


def sleeper(name: str, code: str, seconds: float, pid_file: Path) -> dict:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": CLUSTER},
            "AppSpecification": {"ImageUri": "image:latest", "ContainerEntrypoint": ["python3", f"{CODE}/sleep.py"]},
            "RoleArn": "arn:aws:iam::000000000000:role/test",
            "ProcessingInputs": [s3_input("code", code, CODE)],
            "Environment": {"SECONDS": str(seconds), "PID_FILE": str(pid_file)},
        },
    }  # fmt: skip


def start(state: Path, name: str, step: dict) -> str:
    sagemaker = client(state, "sagemaker")
    definition = {"Version": "2020-12-01", "Parameters": [], "Steps": [step]}
    sagemaker.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn="arn:aws:iam::000000000000:role/x"
    )
    return sagemaker.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]


def status(state: Path, arn: str) -> dict:
    return client(state, "sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)


def test_a_killed_emulator_fails_the_running_execution_and_keeps_the_rest(tmp_path):
    state = tmp_path / "state"
    environment = {**os.environ, "LOCALSAGE_STATE_DIR": str(state)}
    environment.pop("AWS_ENDPOINT_URL", None)

    def invoke(*arguments: str) -> None:
        subprocess.run([INVOKE, *arguments], cwd=REPO, env=environment, check=True, capture_output=True, timeout=300)

    try:
        invoke("emulator.up")
        s3 = client(state, "s3")
        s3.create_bucket(Bucket="restart-tests")
        s3.put_object(Bucket="restart-tests", Key="code/sleep.py", Body=SLEEP)
        code = "s3://restart-tests/code/sleep.py"
        earlier = start(state, "restart-earlier", sleeper("Quick", code, 0, tmp_path / "quick.pid"))
        deadline = time.time() + 60
        while status(state, earlier)["PipelineExecutionStatus"] == "Executing" and time.time() < deadline:
            time.sleep(0.3)
        before = client(state, "sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=earlier)
        running = start(state, "restart-running", sleeper("Long", code, 60, tmp_path / "long.pid"))
        deadline = time.time() + 60
        while not (tmp_path / "long.pid").exists() and time.time() < deadline:
            time.sleep(0.2)
        server = json.loads((state / "emulator" / "server.json").read_text())["pid"]
        os.kill(server, signal.SIGKILL)
        step = int((tmp_path / "long.pid").read_text())
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.kill(step, 0)
                time.sleep(0.2)
            except ProcessLookupError:
                break
        invoke("emulator.up")
        failed = status(state, running)
        assert failed["PipelineExecutionStatus"] == "Failed"
        assert f"the emulator (PID {server}) stopped while this ran" in failed["FailureReason"]
        with_steps = client(state, "sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=running)
        assert [step["StepStatus"] for step in with_steps["PipelineExecutionSteps"]] == ["Stopped"]
        assert status(state, earlier)["PipelineExecutionStatus"] == "Succeeded"
        after = client(state, "sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=earlier)
        assert after["PipelineExecutionSteps"] == before["PipelineExecutionSteps"], "nothing ran again"
        with_quick = client(state, "sagemaker").list_processing_jobs(NameContains="quick")["ProcessingJobSummaries"]
        assert len(with_quick) == 1
        assert client(state, "s3").get_object(Bucket="restart-tests", Key="code/sleep.py")["Body"].read() == SLEEP
    finally:
        subprocess.run([INVOKE, "emulator.down"], cwd=REPO, env=environment, capture_output=True)
