"""Training: channels under /opt/ml/input/data, the config files and SM_* variables, model.tar.gz uploaded."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from definitions_support import IMAGE, ROLE, read, upload
from steps_support import PlayedBackend, context

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.training import Training


def arguments(target, prefix: str, **extra) -> dict:
    data = upload(target, f"{prefix}/train/data.csv", b"y,x\n1,2\n")
    return {
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["/bin/bash", "-c", "train"],
        },
        "HyperParameters": {"depth": "3"},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": data.rsplit("/", 1)[0]}}},
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{target.bucket}/{prefix}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "RoleArn": ROLE,
        **extra,
    }


def test_a_job_gets_its_channels_config_and_variables_and_its_model_is_uploaded(local_target, tmp_path):
    def container(spec):
        rows = (spec.opt_ml / "input" / "data" / "train" / "data.csv").read_text().splitlines()
        (spec.opt_ml / "model" / "model.json").write_text(json.dumps({"rows": len(rows)}))
        (spec.opt_ml / "output" / "data" / "metrics.json").write_text("{}")
        return 0

    backend = PlayedBackend(container)
    step = context(local_target, tmp_path, "Fit", "Training", {}, backend)
    properties = Training().run(arguments(local_target, "tests/training"), step).properties
    (spec,) = backend.specs
    assert spec.command == ["/bin/bash", "-c", "train"]
    assert spec.environment["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert spec.environment["SM_HP_DEPTH"] == "3" and json.loads(spec.environment["SM_HPS"]) == {"depth": "3"}
    assert spec.environment["SM_TRAINING_JOB_NAME"] == step.job_name()
    config = step.opt_ml / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"depth": "3"}
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
    }
    model_uri = properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_uri == f"s3://{local_target.bucket}/tests/training/output/{step.job_name()}/output/model.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(read(local_target, model_uri.split("/", 3)[3]))) as archive:
        assert json.loads(archive.extractfile("model.json").read()) == {"rows": 2}
    assert read(local_target, f"tests/training/output/{step.job_name()}/output/output.tar.gz")
    assert Training().output_uris(properties) == [model_uri]


def test_a_v2_estimator_runs_its_program_with_the_hyperparameters_as_arguments(local_target, tmp_path):
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("fit.py")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"#\n"))
    source = upload(local_target, "tests/training-v2/sourcedir.tar.gz", archive.getvalue())
    given = arguments(
        local_target,
        "tests/training-v2",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        HyperParameters={
            "epochs": "3",
            "sagemaker_program": '"fit.py"',
            "sagemaker_submit_directory": json.dumps(source),
        },
    )
    backend = PlayedBackend()
    step = context(local_target, tmp_path, "FitV2", "Training", {}, backend)
    Training().run(given, step)
    (spec,) = backend.specs
    assert spec.command == ["python3", "/opt/ml/code/fit.py", "--epochs", "3"]
    assert (step.opt_ml / "code" / "fit.py").read_text() == "#\n"
    assert source in Training().input_uris(given)


def test_what_cannot_run_without_the_image_is_refused_before_the_run():
    def step(algorithm: dict, hyperparameters: dict | None = None) -> Step:
        arguments = {"AlgorithmSpecification": algorithm, "HyperParameters": hyperparameters or {}}
        return Step("T", "Training", arguments, "Steps[0]")

    with pytest.raises(UserError, match="TrainingImage is missing"):
        Training().check(step({"AlgorithmName": "xgboost"}))
    with pytest.raises(UserError, match="the training image's own entrypoint cannot run without it"):
        Training().check(step({"TrainingImage": IMAGE}))
    Training().check(step({"TrainingImage": IMAGE}, {"sagemaker_program": '"fit.py"'}))


def test_the_cache_key_follows_sagemakers_training_attributes():
    assert "HyperParameters" in Training.cache_key_attributes and "ResourceConfig" not in Training.cache_key_attributes
    assert {"ModelArtifacts", "TrainingJobName", "FinalMetricDataList"} <= Training.property_names()
