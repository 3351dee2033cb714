"""Hand-written pipeline definitions for runner and command tests: steps whose code is uploaded by the test."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/test-steps:latest"
ROLE = "arn:aws:iam::000000000000:role/test"
# Every member SageMaker requires (the runner refuses a request SageMaker would refuse).
CLUSTER = {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}


def s3_input(name: str, uri: str, local_path: str, **extra) -> dict:
    fields = {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File", **extra}
    return {"InputName": name, "S3Input": fields}


def s3_output(name: str, uri: str, local_path: str) -> dict:
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def hand_written(steps: list[dict], parameters: list[dict] | None = None) -> dict:
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters or [], "Steps": steps}


def upload(target, key: str, body: bytes) -> str:
    target.ensure_bucket()
    target.client("s3").put_object(Bucket=target.bucket, Key=key, Body=body)
    return f"s3://{target.bucket}/{key}"


def read(target, key: str) -> bytes:
    return target.client("s3").get_object(Bucket=target.bucket, Key=key)["Body"].read()


def processing_step(name: str, code_uri: str, script: str, outputs: dict[str, str] | None = None) -> dict:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": dict(CLUSTER)},
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [s3_input("code", code_uri, "/opt/ml/processing/input/code")],
            "ProcessingOutputConfig": {
                "Outputs": [
                    s3_output(output, uri, f"/opt/ml/processing/{output}") for output, uri in (outputs or {}).items()
                ]
            },
        },
    }


def training_step(
    name: str, output_uri: str, channels: dict[str, str], hyperparameters: dict | None = None, **algorithm
) -> dict:
    """A Training step with every member SageMaker requires; `algorithm` adds to AlgorithmSpecification."""
    arguments = {
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File", **algorithm},
        "HyperParameters": hyperparameters or {},
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": dict(CLUSTER),
        "RoleArn": ROLE,
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    if channels:  # SageMaker takes no channels, or at least one
        arguments["InputDataConfig"] = [
            {"ChannelName": channel, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}
            for channel, uri in channels.items()
        ]
    return {"Name": name, "Type": "Training", "Arguments": arguments}


def write_definition(folder: Path, definition: dict, name: str = "definition.json") -> str:
    path = folder / name
    path.write_text(json.dumps(definition))
    return str(path)


LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def deploy_function(
    target, name: str, files: dict[str, str], handler: str = "app.handler", policy: dict | None = None, **configuration
) -> str:
    """A zip-packaged Python function in the emulator's Lambda (with a role of its own, allowed `policy`); its ARN."""
    import io
    import zipfile

    iam = target.client("iam")
    role_name = f"{name}-role"
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]
    if policy:
        iam.put_role_policy(RoleName=role_name, PolicyName="function", PolicyDocument=json.dumps(policy))
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    function = target.client("lambda").create_function(
        FunctionName=name,
        Runtime=configuration.pop("Runtime", "python3.11"),
        Role=role["Arn"],
        Handler=handler,
        Code={"ZipFile": package.getvalue()},
        **configuration,
    )
    return function["FunctionArn"]


BUILD_TIMEOUT_S = 300


class SdkBuilder:
    """The session's SDK builder process (tests/sdk_builder.py); it ends when this process does."""

    def __init__(self):
        self.home = Path(tempfile.mkdtemp(prefix="sdk-builder-"))
        environment = {
            **os.environ,
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(telemetry_off(self.home)),
            "HOME": str(self.home),
        }
        with (self.home / "builder.err").open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("sdk_builder.py"))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment,
            )  # fmt: skip
        assert self.answer().get("ready"), "the SDK builder did not start"

    def answer(self) -> dict:
        """Its next line, within BUILD_TIMEOUT_S; a hung or dead builder fails the test with its stderr."""
        ready, _, _ = select.select([self.process.stdout], [], [], BUILD_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.process.wait()
            errors = (self.home / "builder.err").read_text()[-3000:]
            raise AssertionError(f"the SDK builder gave no answer within {BUILD_TIMEOUT_S} s: {errors}")
        return json.loads(line)

    def run(self, request: dict) -> int:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self.answer()["returncode"]


_builder: SdkBuilder | None = None


def sdk_builder() -> SdkBuilder:
    """The session's builder, started on first use (again if it died)."""
    global _builder
    if _builder is None or _builder.process.poll() is not None:
        _builder = SdkBuilder()
    return _builder


def telemetry_off(folder: Path) -> Path:
    config = folder / "config.yaml"
    config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
    return config


def sdk_build(folder: Path, script: Path, *arguments: str) -> dict:
    """The definition a script under tests/runner/data prints, built by the real SageMaker SDK v3 against this
    session's emulator (telemetry off), in a fork of the session's SDK builder."""
    environment = {**os.environ, "SAGEMAKER_USER_CONFIG_OVERRIDE": str(telemetry_off(folder)), "HOME": str(folder)}
    request = {
        "script": str(script),
        "arguments": list(arguments),
        "cwd": str(folder),
        "environment": environment,
        "stdout": str(folder / "build.out"),
        "stderr": str(folder / "build.err"),
        "timeout_s": BUILD_TIMEOUT_S - 60,
    }
    returncode = sdk_builder().run(request)
    timed_out = f"timed out after {request['timeout_s']} s; " if returncode == -signal.SIGALRM else ""
    assert returncode == 0, (
        f"{script.name} exited {returncode}: {timed_out}{(folder / 'build.err').read_text()[-3000:]}"
    )
    return json.loads((folder / "build.out").read_text().strip().splitlines()[-1])
