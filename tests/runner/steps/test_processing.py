"""Processing: inputs downloaded under /opt/ml/processing, the config files, the container, outputs uploaded."""

from __future__ import annotations

import json

import pytest
from definitions_support import IMAGE, ROLE, read, upload
from steps_support import PlayedBackend, context

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepFailed
from localsage.runner.steps.processing import Processing


def arguments(target, prefix: str) -> dict:
    code = upload(target, f"{prefix}/code/job.py", b"print('hello')\n")
    data = upload(target, f"{prefix}/raw/part-1.csv", b"a,b\n1,2\n")
    return {
        "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}},
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/job.py"],
            "ContainerArguments": ["--rows", "2"],
        },
        "Environment": {"MODE": "full"},
        "RoleArn": ROLE,
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": code, "LocalPath": "/opt/ml/processing/input/code"}},
            {"InputName": "raw", "S3Input": {"S3Uri": data.rsplit("/", 1)[0], "LocalPath": "/opt/ml/processing/raw"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {"S3Uri": f"s3://{target.bucket}/{prefix}/out", "LocalPath": "/opt/ml/processing/out"},
                }
            ]
        },
    }


def test_a_job_gets_its_inputs_and_config_and_its_outputs_are_uploaded(local_target, tmp_path):
    def container(spec):
        raw = spec.opt_ml / "processing" / "raw" / "part-1.csv"
        (spec.opt_ml / "processing" / "out" / "rows.txt").write_text(str(len(raw.read_text().splitlines())))
        return 0

    backend = PlayedBackend(container)
    step = context(local_target, tmp_path, "Prep", "Processing", {}, backend)
    result = Processing().run(arguments(local_target, "tests/processing"), step)
    (spec,) = backend.specs
    assert spec.command == ["python3", "/opt/ml/processing/input/code/job.py", "--rows", "2"]
    assert spec.environment == {"MODE": "full"} and spec.image == IMAGE
    assert spec.code_dirs == [step.opt_ml / "processing" / "input" / "code"]
    config = json.loads((step.opt_ml / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingJobName"] == step.job_name()
    assert json.loads((step.opt_ml / "config" / "resourceconfig.json").read_text())["current_instance_type"] == (
        "ml.m5.xlarge"
    )
    assert read(local_target, "tests/processing/out/rows.txt") == b"2"
    properties = result.properties
    assert properties["ProcessingJobArn"].endswith(f":processing-job/{step.job_name().lower()}")
    assert properties["ProcessingOutputConfig"]["Outputs"]["result"]["S3Output"]["S3Uri"].endswith("/out")


def test_a_container_that_fails_fails_the_step_with_its_log_tail(local_target, tmp_path):
    def container(spec):
        spec.log.write_text("reading\nValueError: column rings is missing\n")
        (spec.opt_ml / "output").mkdir(parents=True)
        (spec.opt_ml / "output" / "failure").write_text("rings is missing")
        return 2

    step = context(local_target, tmp_path, "Prep", "Processing", {}, PlayedBackend(container))
    with pytest.raises(StepFailed, match="step Prep: the container exited with code 2: rings is missing") as raised:
        Processing().run(arguments(local_target, "tests/processing-failing"), step)
    assert raised.value.tail[-1] == "ValueError: column rings is missing"


def test_inputs_the_runner_cannot_serve_are_refused_before_the_run():
    def step(**s3_input) -> Step:
        inputs = [{"InputName": "x", "S3Input": {"S3Uri": "s3://b/k", "LocalPath": "/opt/ml/processing/x", **s3_input}}]
        return Step(
            "P", "Processing", {"AppSpecification": {"ImageUri": IMAGE}, "ProcessingInputs": inputs}, "Steps[0]"
        )

    Processing().check(step())
    with pytest.raises(UserError, match="S3DataType ManifestFile is not supported"):
        Processing().check(step(S3DataType="ManifestFile"))
    with pytest.raises(UserError, match="S3CompressionType is not supported locally"):
        Processing().check(step(S3CompressionType="Gzip"))
    with pytest.raises(UserError, match="AppSpecification.ImageUri is missing"):
        Processing().check(Step("P", "Processing", {"AppSpecification": {}}, "Steps[0]"))


def test_a_local_path_outside_opt_ml_is_refused(local_target, tmp_path):
    bad = arguments(local_target, "tests/processing-outside")
    bad["ProcessingInputs"][1]["S3Input"]["LocalPath"] = "/etc/raw"
    with pytest.raises(UserError, match="LocalPath '/etc/raw' must be under /opt/ml"):
        Processing().run(bad, context(local_target, tmp_path, "Prep", "Processing", {}))


def test_the_cache_key_and_the_uris_follow_sagemakers_processing_contract(local_target):
    given = arguments(local_target, "tests/processing-uris")
    assert Processing.cache_key_attributes == ("AppSpecification", "Environment", "ProcessingInputs")
    assert Processing().input_uris(given) == [item["S3Input"]["S3Uri"] for item in given["ProcessingInputs"]]
    properties = {"ProcessingOutputConfig": {"Outputs": {"result": {"S3Output": {"S3Uri": "s3://b/out"}}}}}
    assert Processing().output_uris(properties) == ["s3://b/out"]
    assert {"ProcessingOutputConfig", "ProcessingJobArn"} <= Processing.property_names()
