"""The runner's entry point end to end: hand-written definitions run by `run()` on the session's emulator, with
the process backend in both modes, fresh and warm interpreters (a private /opt/ml per step where the machine
allows it)."""

from __future__ import annotations

import io
import json
import secrets
import tarfile
from pathlib import Path

import pytest
from definitions_support import hand_written, processing_step, read, training_step, upload

from localsage.runner.backends.process import ProcessBackend, isolation_command, tools_folder
from localsage.runner.definition import DefinitionError, load
from localsage.runner.orchestrator import Execution
from localsage.runner.run import execution_store, run

needs_mount_namespace = pytest.mark.skipif(
    isolation_command() is None, reason="this machine gives step processes no private /opt/ml"
)


def execute(target, definition: dict, state_dir, backend, use_cache: bool = False, parameters: dict | None = None):
    loaded = load(definition)
    execution_id = secrets.token_hex(6)
    execution = Execution(
        execution_id,
        f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/runner-tests/execution/{execution_id}",
        "runner-tests",
        "arn:aws:sagemaker:us-east-1:000000000000:pipeline/runner-tests",
    )
    return run(
        loaded,
        loaded.resolve_parameters(parameters or {}),
        target,
        backend,
        execution=execution,
        state_dir=state_dir,
        use_cache=use_cache,
        say=lambda message: None,
    )


V2_SCRIPT = (
    b"import argparse, io, json, os, pathlib, sys\n"
    b"import numpy as np, pandas as pd\n"
    b"parser = argparse.ArgumentParser(); parser.add_argument('--epochs', type=int)\n"
    b"args = parser.parse_args()\n"
    b"frame = pd.read_csv(pathlib.Path(os.environ['SM_CHANNEL_TRAIN']) / 'data.csv')\n"
    b"model = pathlib.Path(os.environ['SM_MODEL_DIR'])\n"
    b"(model / 'model.json').write_text(json.dumps("
    b"{'epochs': args.epochs, 'rows': len(frame), 'hps': json.loads(os.environ['SM_HPS'])}))\n"
    b"np.save(model / 'weights.npy', frame.to_numpy().astype('float64').cumsum(axis=0) * args.epochs)\n"
)


def v2_definition(target, prefix: str) -> dict:
    """Training with sagemaker_program/sagemaker_submit_directory, as SDK v2 framework estimators write it."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("fit.py")
        info.size = len(V2_SCRIPT)
        tar.addfile(info, io.BytesIO(V2_SCRIPT))
    source = upload(target, f"{prefix}/sourcedir.tar.gz", archive.getvalue())
    data = upload(target, f"{prefix}/train/data.csv", b"a,b\n1,2\n3,4\n")
    hyperparameters = {"epochs": "3", "sagemaker_program": '"fit.py"', "sagemaker_submit_directory": json.dumps(source)}
    channels = {"train": data.rsplit("/", 1)[0]}
    step = training_step("FitV2", f"s3://{target.bucket}/{prefix}/output", channels, hyperparameters)
    return hand_written([step])


def model_files(target, record) -> dict[str, bytes]:
    model_uri = record.steps["FitV2"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    packed = read(target, model_uri.removeprefix(f"s3://{target.bucket}/"))
    with tarfile.open(fileobj=io.BytesIO(packed)) as archive:
        return {member.name: archive.extractfile(member).read() for member in archive.getmembers() if member.isfile()}


def test_a_v2_framework_estimator_definition_runs(local_target, tmp_path, backend):
    record = execute(local_target, v2_definition(local_target, "tests/v2"), tmp_path, backend)
    assert record.status == "Succeeded", record.failure
    model_uri = record.steps["FitV2"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri.endswith(f"/tests/v2/output/pipelines-{record.execution_id}-FitV2/output/model.tar.gz")
    model = json.loads(model_files(local_target, record)["model.json"])
    assert model == {"epochs": 3, "rows": 2, "hps": {"epochs": "3"}}
    config = (
        tmp_path / "runner" / "executions" / record.execution_id / "steps" / "FitV2" / "opt_ml" / "input" / "config"
    )
    assert json.loads((config / "inputdataconfig.json").read_text())["train"]["TrainingInputMode"] == "File"
    assert json.loads((config / "resourceconfig.json").read_text())["current_instance_type"] == "ml.m5.large"


def test_warm_and_fresh_interpreters_give_byte_identical_v2_models(local_target, tmp_path, warm_backend):
    fresh = ProcessBackend(lambda message: None, tools_folder(tmp_path))
    outputs = {}
    for mode, chosen in (("fresh", fresh), ("warm", warm_backend)):
        record = execute(local_target, v2_definition(local_target, f"tests/v2-{mode}"), tmp_path / mode, chosen)
        assert record.status == "Succeeded", record.failure
        outputs[mode] = model_files(local_target, record)
    assert set(outputs["fresh"]) == {"model.json", "weights.npy"}
    assert outputs["warm"] == outputs["fresh"]


@needs_mount_namespace
def test_a_script_that_hard_codes_opt_ml_runs_unmodified(local_target, tmp_path, backend):
    """The old template's style: no arguments, no environment, literal /opt/ml paths."""
    code = upload(
        local_target,
        "tests/literal/code/literal.py",
        b"import pathlib\n"
        b"pathlib.Path('/opt/ml/processing/out/where.txt').write_text(str(pathlib.Path('/opt/ml').resolve()))\n",
    )
    output = f"s3://{local_target.bucket}/tests/literal/out"
    definition = hand_written([processing_step("Literal", code, "literal.py", {"out": output})])
    record = execute(local_target, definition, tmp_path, backend)
    assert record.status == "Succeeded", record.failure
    assert read(local_target, "tests/literal/out/where.txt").decode() == "/opt/ml"


@needs_mount_namespace
def test_job_name_execution_variables_resolve_per_step(local_target, tmp_path, backend):
    code = upload(
        local_target,
        "tests/job-name/code/job.py",
        b"import os, pathlib\npathlib.Path('/opt/ml/processing/out/job.txt').write_text(os.environ['JOB'])\n",
    )
    output = f"s3://{local_target.bucket}/tests/job-name/out"
    definition = hand_written([processing_step("NameMe", code, "job.py", {"out": output})])
    definition["Steps"][0]["Arguments"]["Environment"] = {"JOB": {"Get": "Execution.ProcessingJobName"}}
    record = execute(local_target, definition, tmp_path, backend)
    assert record.status == "Succeeded", record.failure
    assert read(local_target, "tests/job-name/out/job.txt").decode() == f"pipelines-{record.execution_id}-NameMe"


def test_a_failing_step_records_its_log_tail_and_nothing_downstream_runs(local_target, tmp_path, backend):
    failing = upload(local_target, "tests/failing/code/boom.py", b"raise SystemExit('boom: bad input file x.csv')\n")
    after = upload(local_target, "tests/failing/code/after.py", b"print('never')\n")
    downstream = processing_step("After", after, "after.py")
    downstream["DependsOn"] = ["Boom"]
    record = execute(
        local_target, hand_written([processing_step("Boom", failing, "boom.py"), downstream]), tmp_path, backend
    )
    assert record.status == "Failed"
    assert record.steps["Boom"].status == "Failed" and record.steps["After"].status == "NotRun"
    assert record.failure.startswith("step Boom: the container exited with code 1")
    assert "boom: bad input file x.csv" in (tmp_path / record.steps["Boom"].log).read_text()
    assert execution_store(tmp_path).load(record.execution_id).status == "Failed"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["Steps"].__setitem__(0, {**d["Steps"][0], "Type": "AutoML"}), "has type AutoML"),
        (
            lambda d: d["Steps"][0]["Arguments"]["AppSpecification"].__setitem__("ImageUri", {"Get": "Nowhere.X"}),
            "Arguments.AppSpecification.ImageUri",
        ),
        (
            lambda d: d["Steps"][0]["Arguments"].__setitem__("Environment", {"A": {"Get": "Steps.Only.NoSuchThing"}}),
            "reads property NoSuchThing of step Only",
        ),
    ],
)
def test_unsupported_definitions_fail_before_any_step_runs(local_target, tmp_path, backend, change, message):
    definition = hand_written([processing_step("Only", "s3://nowhere/code.py", "code.py")])
    change(definition)
    with pytest.raises(DefinitionError, match=message):
        execute(local_target, definition, tmp_path, backend)
    assert execution_store(tmp_path).all() == []


def test_the_definitions_experiment_config_is_what_steps_read(local_target, tmp_path, warm_backend):
    """PipelineExperimentConfig set by the SDK v3 (expressions of a parameter and the execution id)."""
    from definitions_support import sdk_build

    definition = sdk_build(tmp_path, Path(__file__).parent / "data" / "build_experiment_pipeline.py")
    record = execute(local_target, definition, tmp_path / "state", warm_backend, parameters={"Team": "ops"})
    assert record.failure == f"step Report: abalone-ops trial-{record.execution_id}"
