"""Cleanup: a CleanupStep (built by the real SDK v3) deletes its source training job's outputs from S3; a URI
outside a source step's outputs, or a source that did not run, fails the step before anything is deleted."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from definitions_support import IMAGE, ROLE, sdk_build, upload

from localsage.adapters import s3io
from localsage.runner.definition import load
from localsage.runner.orchestrator import Execution
from localsage.runner.run import run

DATA = Path(__file__).parents[1] / "data"


def execute(target, definition: dict, state_dir, backend):
    loaded = load(definition)
    execution_id = secrets.token_hex(6)
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/cleanup/execution/{execution_id}"
    execution = Execution(execution_id, arn, "cleanup", "arn:aws:sagemaker:us-east-1:000000000000:pipeline/cleanup")
    return run(loaded, {}, target, backend, execution=execution, state_dir=state_dir, use_cache=False,
               say=lambda message: None)  # fmt: skip


@pytest.fixture(scope="module")
def definition(local_target, tmp_path_factory) -> dict:
    data = upload(local_target, "cleanup/train/data.csv", b"x,y\n1,2\n").rsplit("/", 1)[0]
    built = sdk_build(tmp_path_factory.mktemp("cleanup"), DATA / "build_cleanup_pipeline.py",
                      local_target.bucket, data, IMAGE, ROLE)  # fmt: skip
    assert built["Steps"][1]["Type"] == "Cleanup"
    return built


def test_the_training_jobs_outputs_are_deleted(local_target, tmp_path, warm_backend, definition):
    record = execute(local_target, definition, tmp_path, warm_backend)
    assert record.status == "Succeeded", record.failure
    model = record.steps["Train"].properties["ModelArtifacts"]["S3ModelArtifacts"]
    deleted = record.steps["CleanUp"].properties["DeletedS3Objects"]
    assert model in deleted
    assert not s3io.exists(local_target.client("s3"), model)


def test_a_uri_outside_the_sources_outputs_is_refused(local_target, tmp_path, warm_backend, definition):
    keep = upload(local_target, "cleanup/keep/this.txt", b"keep")
    changed = {**definition, "Steps": [definition["Steps"][0], {**definition["Steps"][1]}]}
    changed["Steps"][1]["Arguments"] = {"Resources": {"S3": [{"StepName": "Train", "S3Uris": [keep]}]}}
    record = execute(local_target, changed, tmp_path, warm_backend)
    assert record.status == "Failed"
    assert f"{keep} is not under an output of step Train" in record.failure
    assert s3io.exists(local_target.client("s3"), keep)


def test_a_source_missing_from_depends_on_is_refused_before_anything_runs():
    from localsage.errors import UserError
    from localsage.runner.definition import Step
    from localsage.runner.steps.cleanup import Cleanup

    step = Step("CleanUp", "Cleanup", {"Resources": {"S3": [{"StepName": "Train"}]}}, "Steps[1]")
    with pytest.raises(UserError, match="it cleans up step Train, which is not in its DependsOn"):
        Cleanup().check(step)
