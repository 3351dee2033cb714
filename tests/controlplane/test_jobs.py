"""Standalone jobs: CreateProcessingJob and CreateTrainingJob from any client run on this machine through the same
step types and backend as pipeline steps, with the records, logs and metrics SageMaker gives."""

from __future__ import annotations

import io
import tarfile
import time
import uuid

import pytest
from definitions_support import CLUSTER, IMAGE, ROLE, read, s3_input, upload

CODE = "/opt/ml/processing/input/code"


def code_input(uri: str) -> dict:
    return s3_input("code", uri, CODE)


def wait_for(target, kind: str, name: str, timeout: float = 120) -> dict:
    client = target.client("sagemaker")
    describe = getattr(client, f"describe_{'training' if kind == 'TrainingJob' else 'processing'}_job")
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = describe(**{f"{kind}Name": name})
        if described[f"{kind}Status"] not in ("InProgress", "Stopping"):
            return described
        time.sleep(0.3)
    raise AssertionError(f"{kind} {name} still running after {timeout} s")


def test_a_processing_job_runs_and_is_described_listed_and_logged(local_target):
    code = upload(local_target, "tests/jobs/code/count.py", b"import pathlib\nprint('counted 3 rows')\n"
                  b"pathlib.Path('/opt/ml/processing/out/count.txt').write_text('3')\n")  # fmt: skip
    name = f"count-{uuid.uuid4().hex[:8]}"
    client = local_target.client("sagemaker")
    arn = client.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", f"{CODE}/count.py"]},
        ProcessingResources={"ClusterConfig": CLUSTER},
        ProcessingInputs=[code_input(code)],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": f"s3://{local_target.bucket}/tests/jobs/{name}", "LocalPath": "/opt/ml/processing/out",
            "S3UploadMode": "EndOfJob"}}]},
    )["ProcessingJobArn"]  # fmt: skip
    assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:processing-job/{name}"
    described = wait_for(local_target, "ProcessingJob", name)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert read(local_target, f"tests/jobs/{name}/count.txt") == b"3"
    listed = client.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [job["ProcessingJobName"] for job in listed] == [name]
    logs = local_target.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name)[
        "logStreams"
    ]
    assert stream["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=stream["logStreamName"])
    assert "counted 3 rows" in [event["message"] for event in events["events"]]


def source_archive(script: bytes) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("fit.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    return archive.getvalue()


def test_a_training_job_reports_its_model_and_its_final_metrics(local_target):
    script = (b"import os, pathlib\nfor epoch, loss in enumerate([0.9, 0.5, 0.31]):\n"
              b"    print(f'epoch={epoch} loss={loss}')\n"
              b"pathlib.Path(os.environ['SM_MODEL_DIR'], 'model.txt').write_text('trained')\n")  # fmt: skip
    source = upload(local_target, "tests/jobs/fit/sourcedir.tar.gz", source_archive(script))
    name = f"fit-{uuid.uuid4().hex[:8]}"
    client = local_target.client("sagemaker")
    client.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                "MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"}]},
        HyperParameters={"sagemaker_program": '"fit.py"', "sagemaker_submit_directory": f'"{source}"'},
        OutputDataConfig={"S3OutputPath": f"s3://{local_target.bucket}/tests/jobs/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )  # fmt: skip
    described = wait_for(local_target, "TrainingJob", name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["SecondaryStatus"] == "Completed"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{local_target.bucket}/tests/jobs/output/{name}/output/model.tar.gz"
    )
    (metric,) = described["FinalMetricDataList"]
    assert (metric["MetricName"], metric["Value"]) == ("train:loss", 0.31)
    assert name in [
        job["TrainingJobName"] for job in client.list_training_jobs(StatusEquals="Completed")["TrainingJobSummaries"]
    ]


def test_a_job_is_stopped_and_a_name_is_used_once(local_target):
    code = upload(local_target, "tests/jobs/code/long.py", b"import time\ntime.sleep(60)\n")
    name = f"long-{uuid.uuid4().hex[:8]}"
    client = local_target.client("sagemaker")
    request = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", f"{CODE}/long.py"]},
        "ProcessingResources": {"ClusterConfig": CLUSTER},
        "ProcessingInputs": [code_input(code)],
    }  # fmt: skip
    client.create_processing_job(**request)
    with pytest.raises(client.exceptions.ClientError, match="already exists"):
        client.create_processing_job(**request)
    time.sleep(2)
    client.stop_processing_job(ProcessingJobName=name)
    assert wait_for(local_target, "ProcessingJob", name, timeout=30)["ProcessingJobStatus"] == "Stopped"


def test_a_job_request_sagemaker_would_refuse_is_refused_before_it_is_recorded(local_target):
    """boto3 checks only types and minimums; the emulator checks every rule of the model, as SageMaker does."""
    client = local_target.client("sagemaker")
    name = f"{'n' * 60}-{uuid.uuid4().hex[:8]}"
    request = {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE},
        "ProcessingResources": {"ClusterConfig": CLUSTER},
    }
    with pytest.raises(
        client.exceptions.ClientError, match="ProcessingJobName: 69 characters, SageMaker allows at most 63"
    ):
        client.create_processing_job(**request)
    assert name not in [job["ProcessingJobName"] for job in client.list_processing_jobs()["ProcessingJobSummaries"]]
