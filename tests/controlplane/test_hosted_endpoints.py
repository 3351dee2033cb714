"""Endpoints: a registered model version deployed to an endpoint in the emulator answers InvokeEndpoint (boto3's
sagemaker-runtime and the AWS CLI) with the same predictions the pipeline's batch transform wrote; deleting the
endpoint, or stopping the emulator, stops its server."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from clients_support import aws_cli, cli_environment
from conftest import REPO
from definitions_support import ROLE
from projects import copy_project

from localsage.adapters import processes
from localsage.commands import local_run as commands
from localsage.facts.config import local_dir
from localsage.runner.run import endpoint_store


@pytest.fixture(scope="module")
def pipeline_run(local_target, tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("endpoints"), "endpoints")
    record = commands.local_run(root=project, say=lambda message: None, quiet=True)
    assert record.status == "Succeeded", record.failure
    return record


def read(target, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def deploy(sagemaker, package_arn: str) -> str:
    """What a team's deploy script does with a registered version: model, endpoint config, endpoint."""
    name = f"abalone-{secrets.token_hex(3)}"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": package_arn}])
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name


def wait_in_service(sagemaker, name: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while (described := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Creating":
        assert time.time() < deadline, f"endpoint {name} still Creating after {timeout} s"
        time.sleep(0.3)
    return described


def test_a_registered_version_serves_the_predictions_the_transform_step_wrote(local_target, pipeline_run):
    sagemaker = local_target.client("sagemaker")
    name = deploy(sagemaker, pipeline_run.summary()["model_package_arn"])
    described = wait_in_service(sagemaker, name)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    with pytest.raises(ClientError, match="ValidationException"):
        sagemaker.describe_endpoint(EndpointName="../../escape")
    transform = pipeline_run.steps["ScoreTest"].properties
    batch = read(local_target, transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] + "/batch.csv")
    scored = read(local_target, transform["TransformOutput"]["S3OutputPath"] + "/batch.csv.out")
    features = "\n".join(line.split(",", 1)[1] for line in batch.splitlines())
    answer = local_target.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, Body=features.encode(), ContentType="text/csv", Accept="text/csv"
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    served = [float(value) for value in answer["Body"].read().decode().split()]
    assert served == [float(line.split(",")[1]) for line in scored.splitlines()]

    one_row = features.splitlines()[0]
    output = local_dir(local_target.root) / "invoke-output.csv"
    done = subprocess.run(
        [
            str(aws_cli()),
            "sagemaker-runtime",
            "invoke-endpoint",
            "--endpoint-name",
            name,
            "--body",
            one_row,
            "--content-type",
            "text/csv",
            "--accept",
            "text/csv",
            str(output),
        ],  # fmt: skip
        env=cli_environment(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert float(output.read_text()) == served[0]

    with pytest.raises(ClientError, match="ModelError") as refused:
        local_target.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=b"1,2", ContentType="text/csv")
    assert "the model needs 10" in str(refused.value)

    record = endpoint_store(local_dir(local_target.root)).find(name)
    assert processes.alive(record.host_pid, record.host_started) is not None
    sagemaker.delete_endpoint(EndpointName=name)
    deadline = time.time() + 30
    while processes.alive(record.host_pid, record.host_started) and time.time() < deadline:
        time.sleep(0.2)
    assert processes.alive(record.host_pid, record.host_started) is None, "DeleteEndpoint stops the model server"
    with pytest.raises(ClientError, match="not found"):
        local_target.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")


def test_a_model_that_cannot_load_leaves_the_endpoint_failed_with_the_reason(local_target):
    sagemaker = local_target.client("sagemaker")
    name = f"broken-{secrets.token_hex(3)}"
    container = {"Image": "local/any", "Environment": {"SAGEMAKER_PROGRAM": "missing.py"}}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = wait_in_service(sagemaker, name)
    assert described["EndpointStatus"] == "Failed"
    assert "model server exited with code 1" in described["FailureReason"]
    listed = {item["EndpointName"]: item["EndpointStatus"] for item in sagemaker.list_endpoints()["Endpoints"]}
    assert listed[name] == "Failed"
    sagemaker.delete_endpoint(EndpointName=name)


def test_an_endpoint_stops_with_the_emulator_and_is_served_again_after_its_restart(tmp_path):
    invoke_task = str(Path(sys.executable).with_name("invoke"))
    state = tmp_path / "state"
    environment = {**os.environ, "LOCALSAGE_STATE_DIR": str(state)}
    environment.pop("AWS_ENDPOINT_URL", None)

    def task(*arguments: str) -> None:
        subprocess.run(
            [invoke_task, *arguments], cwd=REPO, env=environment, check=True, capture_output=True, timeout=300
        )

    def client(service: str):
        endpoint = json.loads((state / "emulator" / "server.json").read_text())["endpoint"]
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                            aws_secret_access_key="test")  # fmt: skip

    code = (
        b"def model_fn(model_dir):\n    return None\n\n"
        + b"def transform_fn(model, body, kind, accept):\n    return body[::-1]\n"
    )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    try:
        task("emulator.up")
        client("s3").create_bucket(Bucket="endpoint-restart")
        client("s3").put_object(Bucket="endpoint-restart", Key="model.tar.gz", Body=archive.getvalue())
        environment_variables = {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        }
        container = {"Image": "local/any", "ModelDataUrl": "s3://endpoint-restart/model.tar.gz",
                     "Environment": environment_variables}  # fmt: skip
        sagemaker = client("sagemaker")
        sagemaker.create_model(ModelName="reverser", ExecutionRoleArn=ROLE, PrimaryContainer=container)
        variant = {"VariantName": "AllTraffic", "ModelName": "reverser", "InstanceType": "ml.m5.large"}
        sagemaker.create_endpoint_config(EndpointConfigName="reverser", ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName="reverser", EndpointConfigName="reverser")
        assert wait_in_service(sagemaker, "reverser")["EndpointStatus"] == "InService"
        runtime = client("sagemaker-runtime")
        assert runtime.invoke_endpoint(EndpointName="reverser", Body=b"abc")["Body"].read() == b"cba"
        before = endpoint_store(state).find("reverser")
        task("emulator.down")
        deadline = time.time() + 30
        while processes.alive(before.host_pid, before.host_started) and time.time() < deadline:
            time.sleep(0.2)
        assert processes.alive(before.host_pid, before.host_started) is None, "the emulator's stop stops the server"
        task("emulator.up")
        assert wait_in_service(client("sagemaker"), "reverser")["EndpointStatus"] == "InService"
        assert (
            client("sagemaker-runtime").invoke_endpoint(EndpointName="reverser", Body=b"xyz")["Body"].read() == b"zyx"
        )
    finally:
        subprocess.run([invoke_task, "emulator.down"], cwd=REPO, env=environment, capture_output=True)
