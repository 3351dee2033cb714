"""`./dev local-run` end to end: the project's own pipeline (a private copy named "localrun") and definition files,
run against the session's emulator, recorded there and locally."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from conftest import REPO
from definitions_support import hand_written, processing_step, upload, write_definition
from projects import copy_project

from localsage.commands import local_run as commands
from localsage.errors import UserError
from localsage.runner.definition import DefinitionError

INVOKE = str(Path(sys.executable).with_name("invoke"))
GROUP = "localrun-experimental-models"


@pytest.fixture(scope="module")
def project(local_target, tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("localrun"), "localrun")


def run(project: Path, **options):
    return commands.local_run(root=project, say=lambda message: None, quiet=True, **options)


@pytest.fixture(scope="module")
def two_runs(project):
    """The project's pipeline run twice: the first runs every step, the second hits the cache."""
    return run(project), run(project)


def versions(local_target) -> int:
    packages = local_target.client("sagemaker").list_model_packages(ModelPackageGroupName=GROUP)
    return len(packages["ModelPackageSummaryList"])


def test_the_pipeline_registers_version_1_then_2_pending_with_metrics(two_runs, local_target):
    first, second = two_runs
    assert (first.status, second.status) == ("Succeeded", "Succeeded")
    assert [first.summary()["model_package_version"], second.summary()["model_package_version"]] == [1, 2]
    sagemaker = local_target.client("sagemaker")
    described = sagemaker.describe_model_package(ModelPackageName=first.summary()["model_package_arn"])
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    metrics_uri = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert metrics_uri.endswith("/localrun-experimental/evaluation/evaluation.json")
    report = first.property_files["Evaluate.EvaluationReport"]
    assert 0 < report["regression_metrics"]["rmse"]["value"] < 3.0


def test_artefacts_land_where_a_cloud_run_puts_them(two_runs, local_target):
    first, _ = two_runs
    s3 = local_target.client("s3")
    model_uri = first.steps["Train"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri.endswith(f"/pipelines-{first.execution_id}-Train/output/model.tar.gz")
    bucket, key = model_uri.removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        assert "model.joblib" in archive.getnames()
    kpi = s3.list_objects_v2(Bucket=bucket, Prefix="kpi/localrun/")["Contents"]
    assert any(item["Key"].endswith(f"/{first.execution_id}.csv") and "/dt=" in item["Key"] for item in kpi)


def test_a_cached_rerun_skips_preprocess_and_train(two_runs):
    first, second = two_runs
    assert not first.steps["Preprocess"].cache_hit and not first.steps["Train"].cache_hit
    assert second.steps["Preprocess"].cache_hit and second.steps["Train"].cache_hit
    assert second.steps["Train"].cached_from == first.execution_id
    assert not second.steps["Evaluate"].cache_hit
    assert second.steps["Fail"].status == "Skipped"


def test_the_execution_is_recorded_locally_and_in_the_emulator(two_runs, local_target, project):
    record = run(project)
    stored = commands.executions(record.execution_id, root=project)[0]
    assert stored.status == "Succeeded" and stored.steps["Train"].arguments["HyperParameters"]
    sagemaker = local_target.client("sagemaker")
    summaries = sagemaker.list_pipeline_executions(PipelineName="localrun-experimental")["PipelineExecutionSummaries"]
    assert record.execution_arn in [summary["PipelineExecutionArn"] for summary in summaries]
    definition = json.loads(sagemaker.describe_pipeline(PipelineName="localrun-experimental")["PipelineDefinition"])
    assert definition == json.loads(Path(record.definition_file).read_text())


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
    job = json.loads((steps / "Preprocess" / "opt_ml" / "config" / "processingjobconfig.json").read_text())
    assert job["ProcessingJobName"] == f"pipelines-{first.execution_id}-Preprocess"
    assert job["ProcessingInputs"][0]["S3Input"]["LocalPath"] == "/opt/ml/processing/input"


def test_a_quality_gate_failure_ends_in_fail_with_the_metric_and_nothing_registered(two_runs, local_target, project):
    before = versions(local_target)
    record = run(project, params={"RmseThreshold": "0.5"})
    assert record.status == "Failed"
    assert record.steps["RegisterModel"].status == "Skipped" and record.steps["Fail"].status == "Failed"
    assert "0.5" in record.failure and "rmse" in record.failure.lower()
    assert versions(local_target) == before


def test_a_failing_script_fails_fast_with_its_stderr_and_nothing_downstream(two_runs, local_target, project, tmp_path):
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
    record = run(project, definition_file=write_definition(tmp_path, definition), use_cache=False)
    assert record.status == "Failed"
    assert record.steps["Train"].status == "Failed"
    assert {record.steps[name].status for name in ("Evaluate", "CheckQuality", "RegisterModel")} == {"NotRun"}
    assert "injected failure for the test" in Path(record.steps["Train"].log).read_text()


def test_a_cache_entry_whose_outputs_were_overwritten_is_not_reused(two_runs, local_target, project):
    """Outputs live at fixed prefixes: another run (other code, other data) may have replaced them since."""
    first, _ = two_runs
    train_uri = first.steps["Preprocess"].properties["ProcessingOutputConfig"]["Outputs"]["train"]["S3Output"]["S3Uri"]
    bucket, prefix = train_uri.removeprefix("s3://").split("/", 1)
    s3 = local_target.client("s3")
    key = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"][0]["Key"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"rings,length\n1,0.1\n")
    rerun = run(project)
    assert rerun.status == "Succeeded"
    assert not rerun.steps["Preprocess"].cache_hit
    assert rerun.steps["Train"].cache_hit, "Preprocess wrote the same splits again, so Train's inputs match"


def test_only_the_selected_steps_run_the_others_keep_their_results(two_runs, project):
    source = two_runs[1]
    record = run(project, only=["Evaluate", "CheckQuality", "RegisterModel"], source=source.execution_id)
    assert record.status == "Succeeded", record.failure
    assert record.steps["Train"].reused_from == source.execution_id
    assert record.steps["Train"].properties == source.steps["Train"].properties
    assert record.steps["Evaluate"].status == "Succeeded" and record.steps["Evaluate"].reused_from is None
    assert record.steps["ScoreTest"].reused_from == source.execution_id, "not selected: its result is the source's"
    assert record.selected_steps == ["Evaluate", "CheckQuality", "RegisterModel"]


def test_a_selection_that_needs_an_unfinished_step_is_refused_before_anything_runs(two_runs, project):
    from dataclasses import replace

    from localsage.facts.config import local_dir
    from localsage.runner.run import execution_store
    from localsage.runner.statuses import StepStatus

    store = execution_store(local_dir(project))
    source = two_runs[1]
    # A source execution whose Train failed, as a run that failed at Train is recorded.
    failed = replace(
        source, execution_id="trainfailed1", execution_arn=source.execution_arn + "x", steps=dict(source.steps)
    )
    failed.steps["Train"] = replace(source.steps["Train"], status=StepStatus.FAILED)
    store.save(failed)
    before = commands.executions(root=project)
    with pytest.raises(DefinitionError, match="not in the pipeline: steps are Preprocess"):
        run(project, only=["Nope"])
    with pytest.raises(DefinitionError, match=r"step Evaluate needs step Train, which source execution trainfailed1"):
        run(project, only=["Evaluate"], source="trainfailed1")
    assert commands.executions(root=project) == before


def test_a_bad_param_is_refused_listing_the_valid_ones(project, local_target):
    with pytest.raises(DefinitionError, match=r"RmseThreshold \(Float"):
        run(project, params={"RmseThreshold": "abc"})
    with pytest.raises(DefinitionError, match="unknown parameter Nope"):
        run(project, params={"Nope": "1"})


def test_a_definition_the_runner_cannot_run_records_nothing(project, local_target, tmp_path):
    definition = hand_written([processing_step("Only", "s3://nowhere/code.py", "code.py")])
    definition["Steps"][0]["Type"] = "ClarifyCheck"
    before = commands.executions(root=project)
    with pytest.raises(DefinitionError, match=r"type ClarifyCheck, which the local runner does not run \(it runs AWS"):
        run(project, definition_file=write_definition(tmp_path, definition))
    assert commands.executions(root=project) == before


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "ProcessingJobName",
            "j" * 70,
            "Steps[0].Arguments.ProcessingJobName: 70 characters, SageMaker allows at most 63",
        ),
        (
            "ProcessingResources",
            {"ClusterConfig": {"InstanceCount": 0, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}},
            "Steps[0].Arguments.ProcessingResources.ClusterConfig.InstanceCount: 0, SageMaker allows at least 1",
        ),
    ],
    ids=["job-name-too-long", "no-instances"],
)
def test_local_run_refuses_a_request_sagemaker_would_refuse_before_anything_runs(
    project, local_target, tmp_path, field, value, expected
):
    step = processing_step("Long", "s3://nowhere/code.py", "code.py")
    step["Arguments"][field] = value
    before = commands.executions(root=project)
    completed = invoke(project, "local-run", "--definition", write_definition(tmp_path, hand_written([step])))
    stdout, stderr = completed.communicate(timeout=300)
    assert completed.returncode != 0
    assert f"error: step Long: {expected}" in stderr.splitlines(), stderr
    assert commands.executions(root=project) == before


def test_local_run_refuses_a_run_whose_model_package_group_is_missing_before_any_step(project, local_target, tmp_path):
    """A foreign definition used to run every step and fail at RegisterModel; now nothing runs."""
    code = upload(local_target, "tests/preflight-e2e/code/hello.py", b"print('hello')\n")
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "never-created-group",
            "InferenceSpecification": {
                "Containers": [{"Image": "image:latest", "ModelDataUrl": f"s3://{local_target.bucket}/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        },
    }
    definition = hand_written([processing_step("Hello", code, "hello.py"), register])
    before = commands.executions(root=project)
    completed = invoke(project, "local-run", "--definition", write_definition(tmp_path, definition))
    stdout, stderr = completed.communicate(timeout=300)
    assert completed.returncode != 0
    assert stderr.splitlines()[-1] == (
        "error: step Register: model package group never-created-group does not exist in local: create it "
        "(aws sagemaker create-model-package-group --model-package-group-name never-created-group)"
    ), stderr
    assert commands.executions(root=project) == before


def invoke(project: Path, *args: str, **options) -> subprocess.Popen:
    environment = {**os.environ, "LOCALSAGE_ROOT": str(project)}
    return subprocess.Popen(
        [INVOKE, *args], cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_local_run_task_prints_a_json_summary(two_runs, project):
    completed = invoke(project, "local-run", "--json")
    stdout, stderr = completed.communicate(timeout=300)
    assert completed.returncode == 0, stderr
    assert stderr.count("permissions are not checked: role") == 1, "no role deployed: said once, and the run passes"
    summary = json.loads(stdout)
    assert summary["status"] == "Succeeded"
    assert summary["steps"]["Train"]["cache_hit"] is True
    assert summary["model_package_arn"].startswith(f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{GROUP}/")


def test_ctrl_c_stops_the_step_processes_and_marks_the_execution_stopped(local_target, project, tmp_path):
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
    child = invoke(project, "local-run", "--definition", write_definition(tmp_path, definition), "--json")
    deadline = time.time() + 60
    while not pid_file.exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert pid_file.exists(), child.communicate()
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)
    summary = json.loads(stdout)
    stored = commands.executions(summary["execution_id"], root=project)[0]
    assert stored.status == "Stopped" and stored.steps["Slow"].status == "Stopped"


@pytest.fixture
def without_mount_namespace(monkeypatch):
    """Simulate macOS or a restricted container: no private /opt/ml, paths are rewritten instead (the probe's
    answer is kept per setting, so no earlier answer stands in)."""
    monkeypatch.setenv("LOCALSAGE_ISOLATION", "paths")


def test_without_a_mount_namespace_the_real_pipeline_still_runs(two_runs, project, without_mount_namespace):
    said: list[str] = []
    record = commands.local_run(root=project, say=said.append, quiet=True, use_cache=False)
    assert record.status == "Succeeded", record.failure
    assert any("/opt/ml paths rewritten to step folders" in message for message in said)


def test_without_a_mount_namespace_literal_opt_ml_scripts_are_named(
    local_target, project, tmp_path, without_mount_namespace
):
    code = upload(local_target, "tests/literal-warn/code/legacy.py", b"print(open('/opt/ml/processing/x').read())\n")
    definition = hand_written([processing_step("Legacy", code, "legacy.py")])
    said: list[str] = []
    record = commands.local_run(
        root=project, say=said.append, quiet=True, definition_file=write_definition(tmp_path, definition)
    )
    assert record.status == "Failed"
    assert any("legacy.py spells /opt/ml literally" in message for message in said)


def test_a_definition_file_runs_as_its_own_pipeline(two_runs, local_target, project, tmp_path):
    sagemaker = local_target.client("sagemaker")
    own = sagemaker.describe_pipeline(PipelineName="localrun-experimental")["PipelineDefinition"]
    code = upload(local_target, "tests/other/code/hello.py", b"print('hello')\n")
    path = write_definition(tmp_path, hand_written([processing_step("Hello", code, "hello.py")]), "other pipeline.json")
    record = run(project, definition_file=path)
    assert record.status == "Succeeded" and record.pipeline_name == "other-pipeline"
    assert (
        json.loads(sagemaker.describe_pipeline(PipelineName="other-pipeline")["PipelineDefinition"])["Steps"][0]["Name"]
        == "Hello"
    )
    assert sagemaker.describe_pipeline(PipelineName="localrun-experimental")["PipelineDefinition"] == own
    named = run(project, definition_file=path, pipeline_name="hello-world")
    assert named.pipeline_name == "hello-world"
    with pytest.raises(UserError, match="--pipeline-name 'not valid!'"):
        run(project, definition_file=path, pipeline_name="not valid!")


def outputs(record, state_dir: Path) -> dict[str, bytes]:
    """What the steps wrote (Preprocess's splits, Train's model folder, Evaluate's report and KPI row), by path
    (the execution id and the day in a path spelled as placeholders)."""
    steps = state_dir / "runner" / "executions" / record.execution_id / "steps"
    written = {}
    for folder in ("Preprocess/opt_ml/processing", "Train/opt_ml/model", "Evaluate/opt_ml/processing"):
        for path in sorted((steps / folder).rglob("*")):
            name = path.relative_to(steps).as_posix()
            if path.is_file() and "/input/" not in name and not name.startswith("Evaluate/opt_ml/processing/model/"):
                name = re.sub(r"dt=\d{4}-\d{2}-\d{2}", "dt={day}", name.replace(record.execution_id, "{id}"))
                written[name] = path.read_bytes()
    return written


def kpi_rows(content: bytes) -> list[dict[str, str]]:
    """The KPI row with the two values that name its run (its execution and the moment it was written) masked."""
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    return [{**row, "execution_id": "{id}", "run_ts": "{time}"} for row in rows]


def test_warm_and_fresh_interpreters_write_byte_identical_outputs(project, monkeypatch, state_dir):
    """The project's pipeline with every step run, in each mode: every output byte-identical, but for the KPI
    row's execution id and timestamp."""
    written = {}
    for isolation, backend in (("fresh", "process"), ("auto", "process (warm)")):
        monkeypatch.setenv("LOCALSAGE_ISOLATION", isolation)
        record = run(project, use_cache=False)
        assert (record.status, record.backend) == ("Succeeded", backend), record.failure
        written[isolation] = outputs(record, state_dir)
    fresh, warm = written["fresh"], written["auto"]
    assert set(warm) == set(fresh)
    expected = {
        "Preprocess/opt_ml/processing/train/train.csv",
        "Train/opt_ml/model/model.joblib",
        "Evaluate/opt_ml/processing/evaluation/evaluation.json",
        "Evaluate/opt_ml/processing/kpi/dt={day}/{id}.csv",
    }
    assert expected <= set(fresh), sorted(fresh)
    for name, content in fresh.items():
        if name.endswith("/{id}.csv"):
            assert kpi_rows(warm[name]) == kpi_rows(content)
        else:
            assert warm[name] == content, f"{name} differs between warm and fresh interpreters"
