"""End to end: the real pipeline definition, and hand-written ones, run by the local runner against the emulator."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import REPO

from localsage.runner import local_run as runner
from localsage.runner.definition import DefinitionError

IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/test-steps:latest"
INVOKE = str(Path(sys.executable).with_name("invoke"))


def run(**options):
    return runner.local_run(root=REPO, say=lambda message: None, quiet=True, **options)


@pytest.fixture(scope="module")
def two_runs(local_target):
    """The project's pipeline run twice: the first runs every step, the second hits the cache."""
    first = run(variant="experimental")
    second = run(variant="experimental")
    return first, second


def test_the_pipeline_registers_version_1_then_2_pending_with_metrics(two_runs, local_target):
    first, second = two_runs
    assert (first.status, second.status) == ("Succeeded", "Succeeded")
    assert [first.summary()["model_package_version"], second.summary()["model_package_version"]] == [1, 2]
    sagemaker = local_target.client("sagemaker")
    packages = sagemaker.list_model_packages(ModelPackageGroupName="abalone-experimental-models")
    described = sagemaker.describe_model_package(
        ModelPackageName=packages["ModelPackageSummaryList"][0]["ModelPackageArn"]
    )
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    metrics_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri.endswith("/evaluation.json")
    bucket, key = metrics_uri.removeprefix("s3://").split("/", 1)
    report = json.loads(local_target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert 0 < report["regression_metrics"]["rmse"]["value"] < 3.0
    assert first.property_files["Evaluate.EvaluationReport"] == report


def test_artefacts_land_where_a_cloud_run_puts_them(two_runs, local_target):
    first, _ = two_runs
    s3 = local_target.client("s3")
    model_uri = first.steps["Train"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri.endswith(f"/pipelines-{first.execution_id}-Train/output/model.tar.gz")
    bucket, key = model_uri.removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        assert "model.joblib" in archive.getnames()
    kpi = s3.list_objects_v2(Bucket=local_target.bucket, Prefix="kpi/abalone/")["Contents"]
    assert any(item["Key"].endswith(f"/{first.execution_id}.csv") and "/dt=" in item["Key"] for item in kpi)


def test_a_cached_rerun_skips_preprocess_and_train(two_runs):
    first, second = two_runs
    assert not first.steps["Preprocess"].cache_hit and not first.steps["Train"].cache_hit
    assert second.steps["Preprocess"].cache_hit and second.steps["Train"].cache_hit
    assert second.steps["Train"].cached_from == first.execution_id
    assert not second.steps["Evaluate"].cache_hit
    assert second.steps["Fail"].status == "Skipped"


def test_the_execution_is_recorded_locally_and_in_the_emulator(two_runs, local_target):
    first, _ = two_runs
    stored = runner.executions(first.execution_id, root=REPO)[0]
    assert stored.status == "Succeeded" and stored.steps["Train"].arguments["HyperParameters"]
    sagemaker = local_target.client("sagemaker")
    arns = [
        summary["PipelineExecutionArn"]
        for summary in sagemaker.list_pipeline_executions(PipelineName="abalone-experimental")[
            "PipelineExecutionSummaries"
        ]
    ]
    assert first.execution_arn in arns
    definition = json.loads(sagemaker.describe_pipeline(PipelineName="abalone-experimental")["PipelineDefinition"])
    assert definition["Version"] == "2020-12-01"


def test_a_quality_gate_failure_ends_in_fail_with_the_metric_and_nothing_registered(two_runs, local_target):
    sagemaker = local_target.client("sagemaker")
    before = len(
        sagemaker.list_model_packages(ModelPackageGroupName="abalone-experimental-models")["ModelPackageSummaryList"]
    )
    record = run(variant="experimental", params=["RmseThreshold=0.5"])
    assert record.status == "Failed"
    assert record.steps["RegisterModel"].status == "Skipped" and record.steps["Fail"].status == "Failed"
    assert "0.5" in record.failure and "rmse" in record.failure.lower()
    after = len(
        sagemaker.list_model_packages(ModelPackageGroupName="abalone-experimental-models")["ModelPackageSummaryList"]
    )
    assert after == before


def test_a_failing_script_fails_fast_with_its_stderr_and_nothing_downstream(two_runs, local_target):
    """The real definition, with the Train code channel pointing at a copy of train.py that raises."""
    first, _ = two_runs
    s3 = local_target.client("s3")
    definition = json.loads(Path(first.definition_file).read_text())
    train = next(step for step in definition["Steps"] if step["Name"] == "Train")
    code_channel = next(c for c in train["Arguments"]["InputDataConfig"] if c["ChannelName"] == "code")
    source_uri = code_channel["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, prefix = source_uri.removeprefix("s3://").split("/", 1)
    broken_prefix = f"tests/broken-train/{time.time_ns()}/code"
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        if item["Key"].endswith("/train.py"):
            body = body.replace(b"def main(", b"raise RuntimeError('injected failure for the test')\n\n\ndef main(", 1)
        s3.put_object(Bucket=bucket, Key=broken_prefix + item["Key"][len(prefix) :], Body=body)
    code_channel["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{bucket}/{broken_prefix}"
    path = Path(first.definition_file).with_name("broken-definition.json")
    path.write_text(json.dumps(definition))
    record = run(definition_file=str(path), use_cache=False)
    assert record.status == "Failed"
    assert record.steps["Train"].status == "Failed"
    assert {record.steps[name].status for name in ("Evaluate", "CheckQuality", "RegisterModel")} == {"NotRun"}
    log = Path(record.steps["Train"].log).read_text()
    assert "injected failure for the test" in log


def hand_written(steps: list[dict], parameters: list[dict] | None = None) -> dict:
    return {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters or [], "Steps": steps}


def upload(local_target, key: str, body: bytes) -> str:
    local_target.ensure_bucket()
    local_target.client("s3").put_object(Bucket=local_target.bucket, Key=key, Body=body)
    return f"s3://{local_target.bucket}/{key}"


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
            "RoleArn": "arn:aws:iam::000000000000:role/test",
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


def write_definition(tmp_path: Path, definition: dict) -> str:
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return str(path)


def test_a_v2_framework_estimator_definition_runs(local_target, tmp_path):
    """Training with sagemaker_program/sagemaker_submit_directory, as SDK v2 framework estimators write it."""
    script = (
        b"import argparse, json, os, pathlib\n"
        b"parser = argparse.ArgumentParser(); parser.add_argument('--epochs', type=int)\n"
        b"args = parser.parse_args()\n"
        b"rows = (pathlib.Path(os.environ['SM_CHANNEL_TRAIN']) / 'data.csv').read_text().splitlines()\n"
        b"pathlib.Path(os.environ['SM_MODEL_DIR'], 'model.json').write_text(json.dumps("
        b"{'epochs': args.epochs, 'rows': len(rows), 'hps': json.loads(os.environ['SM_HPS'])}))\n"
    )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("fit.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    source = upload(local_target, "tests/v2/sourcedir.tar.gz", archive.getvalue())
    data = upload(local_target, "tests/v2/train/data.csv", b"a,b\n1,2\n3,4\n")
    definition = hand_written(
        [
            {
                "Name": "FitV2",
                "Type": "Training",
                "Arguments": {
                    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                    "HyperParameters": {
                        "epochs": "3",
                        "sagemaker_program": '"fit.py"',
                        "sagemaker_submit_directory": json.dumps(source),
                    },
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.rsplit("/", 1)[0]}},
                        }
                    ],
                    "OutputDataConfig": {"S3OutputPath": f"s3://{local_target.bucket}/tests/v2/output"},
                    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
                    "RoleArn": "arn:aws:iam::000000000000:role/test",
                    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
                },
            }
        ]
    )
    record = run(definition_file=write_definition(tmp_path, definition), variant="stable")
    assert record.status == "Succeeded", record.failure
    model_uri = record.steps["FitV2"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = model_uri.removeprefix("s3://").split("/", 1)
    packed = local_target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        model = json.loads(archive.extractfile("model.json").read())
    assert model == {"epochs": 3, "rows": 3, "hps": {"epochs": "3"}}


def test_a_script_that_hard_codes_opt_ml_runs_unmodified(local_target, tmp_path):
    """The old template's style: no arguments, no environment, literal /opt/ml paths."""
    code = upload(
        local_target,
        "tests/literal/code/literal.py",
        b"import pathlib\n"
        b"pathlib.Path('/opt/ml/processing/out/where.txt').write_text(str(pathlib.Path('/opt/ml').resolve()))\n",
    )
    output = f"s3://{local_target.bucket}/tests/literal/out"
    definition = hand_written([processing_step("Literal", code, "literal.py", {"out": output})])
    record = run(definition_file=write_definition(tmp_path, definition), use_cache=False)
    assert record.status == "Succeeded", record.failure
    body = local_target.client("s3").get_object(Bucket=local_target.bucket, Key="tests/literal/out/where.txt")["Body"]
    assert body.read().decode() == "/opt/ml"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["Steps"].__setitem__(0, {**d["Steps"][0], "Type": "Transform"}), "has type Transform"),
        (
            lambda d: d["Steps"][0]["Arguments"]["AppSpecification"].__setitem__("ImageUri", {"Get": "Nowhere.X"}),
            "Arguments.AppSpecification.ImageUri",
        ),
    ],
)
def test_unsupported_definitions_fail_before_any_step_runs(local_target, tmp_path, change, message):
    definition = hand_written([processing_step("Only", "s3://nowhere/code.py", "code.py")])
    change(definition)
    before = {record.execution_id for record in runner.executions(root=REPO)}
    with pytest.raises(DefinitionError, match=message):
        run(definition_file=write_definition(tmp_path, definition))
    assert {record.execution_id for record in runner.executions(root=REPO)} == before


def test_a_bad_param_is_refused_listing_the_valid_ones(two_runs):
    with pytest.raises(DefinitionError, match=r"RmseThreshold \(Float"):
        run(variant="experimental", params=["RmseThreshold=abc"])
    with pytest.raises(DefinitionError, match="unknown parameter Nope"):
        run(variant="experimental", params=["Nope=1"])


def test_ctrl_c_stops_the_step_processes_and_marks_the_execution_stopped(local_target, tmp_path):
    code = upload(
        local_target,
        "tests/slow/code/slow.py",
        b"import os, pathlib, time\n"
        b"pathlib.Path(os.environ['PID_FILE']).write_text(str(os.getpid()))\n"
        b"time.sleep(60)\n",
    )
    definition = hand_written([processing_step("Slow", code, "slow.py")])
    pid_file = tmp_path / "step.pid"
    definition["Steps"][0]["Arguments"]["Environment"] = {"PID_FILE": str(pid_file)}
    command = [INVOKE, "local-run", "--definition", write_definition(tmp_path, definition), "--json"]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert pid_file.exists(), child.communicate()
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    step_pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(step_pid, 0)
    latest = runner.executions(root=REPO)[0]
    assert latest.status == "Stopped" and latest.steps["Slow"].status == "Stopped"


def test_local_run_task_prints_a_json_summary(two_runs):
    completed = subprocess.run(
        [INVOKE, "local-run", "--json"], cwd=REPO, capture_output=True, text=True, timeout=300, env=os.environ
    )
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert summary["status"] == "Succeeded"
    assert summary["steps"]["Train"]["cache_hit"] is True
    assert summary["model_package_arn"].startswith("arn:aws:sagemaker:us-east-1:000000000000:model-package/")


@pytest.fixture
def without_mount_namespace(monkeypatch):
    """Simulate macOS or a restricted container: no private /opt/ml, paths are rewritten instead."""
    from localsage.runner.backends import process

    monkeypatch.setenv("LOCALSAGE_ISOLATION", "paths")
    process.isolation_command.cache_clear()
    yield
    process.isolation_command.cache_clear()


def test_without_a_mount_namespace_the_real_pipeline_still_runs(two_runs, without_mount_namespace):
    record = run(variant="experimental", use_cache=False)
    assert record.status == "Succeeded", record.failure
    assert not Path("/opt/ml/model").exists() or not any(Path("/opt/ml/model").iterdir())


def test_without_a_mount_namespace_literal_opt_ml_scripts_are_named(local_target, tmp_path, without_mount_namespace):
    code = upload(local_target, "tests/literal-warn/code/legacy.py", b"print(open('/opt/ml/processing/x').read())\n")
    definition = hand_written([processing_step("Legacy", code, "legacy.py")])
    said: list[str] = []
    record = runner.local_run(
        root=REPO, say=said.append, quiet=True, definition_file=write_definition(tmp_path, definition)
    )
    assert record.status == "Failed"
    assert any("legacy.py spells /opt/ml literally" in message for message in said)


def test_a_cache_entry_whose_outputs_were_overwritten_is_not_reused(two_runs, local_target):
    """Outputs live at fixed prefixes: another run (other code, other data) may have replaced them since."""
    first, _ = two_runs
    train_uri = first.steps["Preprocess"].properties["ProcessingOutputConfig"]["Outputs"]["train"]["S3Output"]["S3Uri"]
    bucket, prefix = train_uri.removeprefix("s3://").split("/", 1)
    s3 = local_target.client("s3")
    key = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"rings,length\n1,0.1\n")
    rerun = run(variant="experimental")
    assert rerun.status == "Succeeded"
    assert not rerun.steps["Preprocess"].cache_hit
    assert rerun.steps["Train"].cache_hit, "Preprocess wrote the same splits again, so Train's inputs match"


def test_job_name_execution_variables_resolve_per_step(local_target, tmp_path):
    code = upload(
        local_target,
        "tests/job-name/code/job.py",
        b"import os, pathlib\npathlib.Path('/opt/ml/processing/out/job.txt').write_text(os.environ['JOB'])\n",
    )
    output = f"s3://{local_target.bucket}/tests/job-name/out"
    definition = hand_written([processing_step("NameMe", code, "job.py", {"out": output})])
    definition["Steps"][0]["Arguments"]["Environment"] = {"JOB": {"Get": "Execution.ProcessingJobName"}}
    record = run(definition_file=write_definition(tmp_path, definition), use_cache=False)
    assert record.status == "Succeeded", record.failure
    body = local_target.client("s3").get_object(Bucket=local_target.bucket, Key="tests/job-name/out/job.txt")["Body"]
    assert body.read().decode() == f"pipelines-{record.execution_id}-NameMe"


def test_each_job_gets_the_config_files_a_sagemaker_container_gets(two_runs):
    first, _ = two_runs
    steps = Path(first.definition_file).parent / "steps"
    config = steps / "Train" / "opt_ml" / "input" / "config"
    assert (
        json.loads((config / "hyperparameters.json").read_text()) == first.steps["Train"].arguments["HyperParameters"]
    )
    resources = json.loads((config / "resourceconfig.json").read_text())
    assert resources["current_host"] == "algo-1" and resources["current_instance_type"] == "ml.m5.large"
    channels = json.loads((config / "inputdataconfig.json").read_text())
    assert set(channels) == {"train", "validation", "code", "sm_drivers"}
    assert channels["train"]["TrainingInputMode"] == "File"
    job = json.loads((steps / "Preprocess" / "opt_ml" / "config" / "processingjobconfig.json").read_text())
    assert job["ProcessingJobName"] == f"pipelines-{first.execution_id}-Preprocess"
    assert job["ProcessingInputs"][0]["S3Input"]["LocalPath"] == "/opt/ml/processing/input"
