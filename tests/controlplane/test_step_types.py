"""Model, Transform, Lambda and Callback steps in one definition built by the real SageMaker SDK v3, upserted and
started through the emulator's SageMaker API; the callback is answered with the AWS CLI, as a reviewer's tool
would, and every step's record is read back through the API."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from clients_support import aws_cli, cli_environment
from definitions_support import IMAGE, ROLE, deploy_function, sdk_build, upload

DATA = Path(__file__).parents[1] / "runner" / "data"
INFERENCE = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "scale.json")) as stream:
        return json.load(stream)["scale"]

def predict_fn(rows, scale):
    return rows.sum(axis=1) * scale
"""
SCALE = """
def handler(event, context):
    return {"scaled": event["mean"] * event["factor"]}
"""
SUMMARY = """
import boto3

def handler(event, context):
    bucket, _, prefix = event["scores"].removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=prefix + "/batch.csv.out")["Body"].read().decode()
    predictions = [float(line.split(",")[1]) * event["scale"] for line in body.splitlines()]
    return {"count": len(predictions), "mean": sum(predictions) / len(predictions)}
"""


def cli(*arguments: str) -> dict:
    environment = cli_environment()
    # AWS CLI v1 replaces the endpoint of sqs (and emr) with AWS's own, whatever AWS_ENDPOINT_URL says.
    endpoint = ["--endpoint-url", environment["AWS_ENDPOINT_URL"]] if arguments[0] == "sqs" else []
    done = subprocess.run(
        [str(aws_cli()), *endpoint, *arguments, "--output", "json"], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def model_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in {"scale.json": b'{"scale": 2.0}', "code/inference.py": INFERENCE.encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def definition(local_target, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sdk-step-types")
    model_data = upload(local_target, "step-types/model/model.tar.gz", model_archive())
    inputs = upload(local_target, "step-types/input/batch.csv", b"10,1,2\n20,3,4\n30,5,6\n")
    bucket = local_target.bucket
    function = deploy_function(
        local_target,
        "summarise-scores",
        {"app.py": SUMMARY},
        policy={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
        },
        Timeout=60,
    )
    scale = deploy_function(local_target, "scale-mean", {"app.py": SCALE})
    train = upload(local_target, "step-types/train/data.csv", b"x,y\n1,2\n").rsplit("/", 1)[0]
    local_target.client("sqs").create_queue(QueueName="model-reviews")
    queue = "https://sqs.us-east-1.amazonaws.com/000000000000/model-reviews"
    script = DATA / "build_step_types_pipeline.py"
    data = inputs.rsplit("/", 1)[0]
    return sdk_build(folder, script, bucket, model_data, data, function, queue, IMAGE, ROLE, scale, train)


def answer_review(decision: str, timeout: float = 120) -> dict:
    """A reviewer's tool: read the step's message from the queue, answer its token through SageMaker's API."""
    queue = cli("sqs", "get-queue-url", "--queue-name", "model-reviews")["QueueUrl"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        messages = cli("sqs", "receive-message", "--queue-url", queue, "--wait-time-seconds", "1").get("Messages", [])
        if messages:
            message = json.loads(messages[0]["Body"])
            cli("sqs", "delete-message", "--queue-url", queue, "--receipt-handle", messages[0]["ReceiptHandle"])
            outputs = json.dumps([{"Name": "decision", "Value": decision}])
            cli("sagemaker", "send-pipeline-execution-step-success", "--callback-token", message["token"],
                "--output-parameters", outputs)  # fmt: skip
            return message
    raise AssertionError("no callback message arrived")


def wait(sagemaker, arn: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        time.sleep(0.5)
    raise AssertionError(f"{arn} still running after {timeout} s")


def test_an_sdk_built_pipeline_of_transform_lambda_and_callback_runs_through_the_api(local_target, definition):
    types = ["Model", "Transform", "Lambda", "ForEach", "Tuning", "Callback", "Condition", "EndpointConfig", "Endpoint"]
    assert [step["Type"] for step in definition["Steps"]] == types
    sagemaker = local_target.client("sagemaker")
    sagemaker.create_pipeline(PipelineName="step-types", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sagemaker.start_pipeline_execution(PipelineName="step-types")["PipelineExecutionArn"]
    message = answer_review("ship")
    assert message["pipelineExecutionArn"] == arn
    # Predictions are 2 * (f1 + f2): 6, 14, 22; their mean 14; scaled by each of [1, 3, 2], the largest is 42.
    # Tuning's loss is lowest for adam.
    assert message["arguments"] == {"mean": 14.0, "count": 3, "largest": 42.0, "first": 14.0, "tuned": "adam"}
    described = wait(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    listed = cli("sagemaker", "list-pipeline-execution-steps", "--pipeline-execution-arn", arn)
    steps = {step["StepName"]: step for step in listed["PipelineExecutionSteps"]}
    assert steps["Gate"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert steps["Tune"]["Metadata"]["TuningJob"]["Arn"].startswith("arn:aws:sagemaker:us-east-1:000000000000:")
    assert steps["Summarise"]["Metadata"]["Lambda"]["OutputParameters"] == [
        {"Name": "count", "Value": "3"},
        {"Name": "mean", "Value": "14.0"},
    ]
    assert steps["Approve"]["Metadata"]["Callback"]["OutputParameters"] == [{"Name": "decision", "Value": "ship"}]
    assert steps["Approve"]["Metadata"]["Callback"]["CallbackToken"] == message["token"]
    scores = local_target.client("s3").get_object(Bucket=local_target.bucket, Key="step-types/scores/batch.csv.out")
    assert scores["Body"].read().decode().split() == ["10,6.0", "20,14.0", "30,22.0"]
    endpoint = steps["Serve"]["Metadata"]["Endpoint"]["Arn"].rsplit("/", 1)[1]
    assert endpoint == f"step-types-{arn.rsplit('/', 1)[1]}"
    answer = local_target.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=b"1,2\n3,4\n", ContentType="text/csv", Accept="text/csv"
    )
    assert answer["Body"].read().decode().split() == ["6.0", "14.0"], "the endpoint serves the model Score used"
    sagemaker.delete_endpoint(EndpointName=endpoint)


def test_a_rejected_review_fails_the_execution_at_its_gate(local_target, definition):
    sagemaker = local_target.client("sagemaker")
    arn = sagemaker.start_pipeline_execution(PipelineName="step-types")["PipelineExecutionArn"]
    answer_review("hold")
    described = wait(sagemaker, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "step Rejected: the reviewer did not ship it"
    sagemaker.delete_endpoint(EndpointName=f"step-types-{arn.rsplit('/', 1)[1]}")
