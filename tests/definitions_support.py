"""Hand-written pipeline definitions for runner and command tests: steps whose code is uploaded by the test."""

from __future__ import annotations

import json
from pathlib import Path

IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/test-steps:latest"
ROLE = "arn:aws:iam::000000000000:role/test"


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
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
            "AppSpecification": {
                "ImageUri": IMAGE,
                "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/{script}"],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {"InputName": "code", "S3Input": {"S3Uri": code_uri, "LocalPath": "/opt/ml/processing/input/code"}}
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": output, "S3Output": {"S3Uri": uri, "LocalPath": f"/opt/ml/processing/{output}"}}
                    for output, uri in (outputs or {}).items()
                ]
            },
        },
    }


def write_definition(folder: Path, definition: dict, name: str = "definition.json") -> str:
    path = folder / name
    path.write_text(json.dumps(definition))
    return str(path)
