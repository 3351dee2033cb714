"""The same client code as in AWS, against the emulator: the AWS CLI, the SageMaker SDK v3's Pipeline and
ModelTrainer, each only pointed at the local endpoint, run the project's pipeline and jobs on this machine."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time

import pytest
from clients_support import aws_cli, cli_environment
from conftest import REPO

from localsage.commands import pipelines as pipeline_commands
from localsage.facts import config as project_config

CONFIG = project_config.load(REPO)
PIPELINE = CONFIG.pipeline_name("experimental")
GROUP = CONFIG.model_package_group("experimental")


@pytest.fixture(scope="module")
def upserted(local_target):
    """`./dev upsert` of the project's experimental pipeline: what a team does before any client starts it."""
    pipeline_commands.upsert("experimental", root=REPO, say=lambda message: None)
    return local_target


def aws_text(*arguments: str) -> str:
    done = subprocess.run(
        [str(aws_cli()), *arguments], env=cli_environment(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def aws(*arguments: str) -> dict:
    output = aws_text(*arguments, "--output", "json")
    return json.loads(output) if output.strip() else {}


def cli_wait(arn: str, timeout: float = 300) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = aws("sagemaker", "describe-pipeline-execution", "--pipeline-execution-arn", arn)
        if described["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
            return described
        time.sleep(1)
    raise AssertionError(f"{arn} still running after {timeout} s")


def test_the_aws_cli_runs_the_pipeline_and_reads_every_record(upserted):
    arn = aws("sagemaker", "start-pipeline-execution", "--pipeline-name", PIPELINE)["PipelineExecutionArn"]
    assert cli_wait(arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = {
        step["StepName"]: step
        for step in aws("sagemaker", "list-pipeline-execution-steps", "--pipeline-execution-arn", arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert set(steps) == {
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckQuality",
        "RegisterModel",
        "CreateModel",
        "ScoreTest",
    }
    assert all(step["StepStatus"] == "Succeeded" for step in steps.values())
    transform_arn = steps["ScoreTest"]["Metadata"]["TransformJob"]["Arn"]
    transform = aws("sagemaker", "describe-transform-job", "--transform-job-name", transform_arn.rsplit("/", 1)[1])
    assert transform["TransformJobStatus"] == "Completed"
    assert transform["ModelName"] == steps["CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    scores = transform["TransformOutput"]["S3OutputPath"] + "/batch.csv.out"
    rows = [line.split(",") for line in aws_text("s3", "cp", scores, "-").splitlines()]
    assert rows and all(len(row) == 2 and float(row[1]) > 0 for row in rows), "rings, prediction per test row"
    assert steps["CheckQuality"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert steps["RegisterModel"]["Metadata"]["RegisterModel"]["Arn"].startswith(
        f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{GROUP}/"
    )
    training_arn = steps["Train"]["Metadata"]["TrainingJob"]["Arn"]
    job = aws("sagemaker", "describe-training-job", "--training-job-name", training_arn.rsplit("/", 1)[1])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    streams = aws("logs", "describe-log-streams", "--log-group-name", "/aws/sagemaker/TrainingJobs",
                  "--log-stream-name-prefix", job["TrainingJobName"])["logStreams"]  # fmt: skip
    (stream,) = streams
    # `aws logs tail` is a CLI v2 command; v2 is not on the package registry. v1's filter-log-events reads the
    # same stream (it is the call `logs tail` makes).
    events = aws("logs", "filter-log-events", "--log-group-name", "/aws/sagemaker/TrainingJobs",
                 "--log-stream-names", stream["logStreamName"])["events"]  # fmt: skip
    assert any("train.py" in event["message"] or "rmse" in event["message"] for event in events), events[-5:]
    processing = aws("sagemaker", "list-processing-jobs", "--name-contains", arn.rsplit("/", 1)[1])
    assert len(processing["ProcessingJobSummaries"]) == 2

    failing = aws("sagemaker", "start-pipeline-execution", "--pipeline-name", PIPELINE,
                  "--pipeline-parameters", "Name=RmseThreshold,Value=0.5")["PipelineExecutionArn"]  # fmt: skip
    described = cli_wait(failing)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert (
        described["FailureReason"].startswith("step Fail: Test rmse ")
        and "is above the RmseThreshold 0.5" in (described["FailureReason"])
    )


def project_pipeline(session):
    """The project's pipeline built by the SDK, as a notebook builds it (ml/pipeline.py's get_pipeline)."""
    from ml.pipeline import get_pipeline

    account = "000000000000"
    return get_pipeline(
        role=CONFIG.execution_role_arn(account),
        default_bucket=CONFIG.bucket_name(account),
        pipeline_name=PIPELINE,
        model_package_group_name=GROUP,
        base_job_prefix=PIPELINE,
        image_uri=CONFIG.step_image_uri(account),
        sagemaker_session=session,
        input_data_uri=f"s3://{CONFIG.bucket_name(account)}/data/abalone.csv",
        kpi_output_uri=f"s3://{CONFIG.bucket_name(account)}/{CONFIG.kpi_prefix}",
        kpi_schema_path=str(REPO / "infra" / "kpi" / "model_kpis.json"),
        variant="experimental",
        tags=CONFIG.tag_list,
    )


@pytest.fixture(scope="module")
def sdk_pipeline(upserted):
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(default_bucket=CONFIG.bucket_name("000000000000"))
    pipeline = project_pipeline(session)
    pipeline.upsert(role_arn=CONFIG.execution_role_arn("000000000000"))
    return pipeline


def versions(target) -> int:
    return len(target.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"])


def test_the_sdk_upserts_starts_waits_and_lists_steps(sdk_pipeline, upserted):
    before = versions(upserted)
    execution = sdk_pipeline.start(parameters={"RmseThreshold": 3.0})
    execution.wait(delay=1, max_attempts=300)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = {step["StepName"]: step["StepStatus"] for step in execution.list_steps()}
    ran = ("Preprocess", "Train", "Evaluate", "CheckQuality", "RegisterModel", "CreateModel", "ScoreTest")
    assert steps == dict.fromkeys(ran, "Succeeded")
    assert versions(upserted) == before + 1
    report = json.loads(
        upserted.client("s3")
        .get_object(Bucket=upserted.bucket, Key=f"{PIPELINE}/evaluation/evaluation.json")["Body"]
        .read()
    )
    assert 0 < report["regression_metrics"]["rmse"]["value"] < 3.0


def test_the_sdk_reruns_only_the_selected_steps_from_a_source_execution(sdk_pipeline, upserted):
    from sagemaker.mlops.workflow.selective_execution_config import SelectiveExecutionConfig

    source = sdk_pipeline.start()
    source.wait(delay=1, max_attempts=300)
    selected = ["Evaluate", "CheckQuality", "RegisterModel"]
    config = SelectiveExecutionConfig(source_pipeline_execution_arn=source.arn, selected_steps=selected)
    execution = sdk_pipeline.start(selective_execution_config=config)
    execution.wait(delay=1, max_attempts=300)
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    assert described["SelectiveExecutionConfig"]["SourcePipelineExecutionArn"] == source.arn
    jobs = upserted.client("sagemaker").list_training_jobs(NameContains=execution.arn.rsplit("/", 1)[1])
    assert jobs["TrainingJobSummaries"] == [], "Train was not selected: its model came from the source execution"
    ran = {step["StepName"] for step in execution.list_steps() if step["StepStatus"] == "Succeeded"}
    assert set(selected) <= ran


def test_the_sdk_stops_an_execution_mid_step_and_nothing_is_registered(sdk_pipeline, upserted):
    before = versions(upserted)
    execution = sdk_pipeline.start()
    deadline = time.time() + 120
    while time.time() < deadline:
        running = {step["StepName"] for step in execution.list_steps() if step["StepStatus"] == "Executing"}
        if running & {"Preprocess", "Train", "Evaluate"}:
            break
        time.sleep(0.2)
    execution.stop()
    deadline = time.time() + 60
    while execution.describe()["PipelineExecutionStatus"] in ("Executing", "Stopping") and time.time() < deadline:
        time.sleep(0.3)
    assert execution.describe()["PipelineExecutionStatus"] == "Stopped"
    assert "RegisterModel" not in {step["StepName"] for step in execution.list_steps()}
    assert versions(upserted) == before


def test_model_trainer_trains_against_the_local_endpoint(upserted, tmp_path):
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.training.configs import Compute, SourceCode
    from sagemaker.train import ModelTrainer

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "fit.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['SM_MODEL_DIR'], 'model.txt').write_text('fitted')\n"
        "print('fit done')\n"
    )
    trainer = ModelTrainer(
        training_image=CONFIG.step_image_uri("000000000000"),
        role=CONFIG.execution_role_arn("000000000000"),
        source_code=SourceCode(source_dir=str(tmp_path / "code"), entry_script="fit.py"),
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        base_job_name="local-trainer",
        sagemaker_session=Session(default_bucket=CONFIG.bucket_name("000000000000")),
    )
    trainer.train(wait=True, logs=True)
    job = trainer._latest_training_job
    described = upserted.client("sagemaker").describe_training_job(TrainingJobName=job.training_job_name)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    bucket, key = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)

    with tarfile.open(
        fileobj=io.BytesIO(upserted.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    ) as archive:
        assert archive.extractfile("model.txt").read() == b"fitted"
