"""The pipeline definition built with the SageMaker SDK v3 against the emulator: shape, wiring, determinism."""

from __future__ import annotations

import json
import shutil
from unittest import mock

import pytest
from conftest import REPO

from localsage.errors import UserError


def get(reference: str) -> dict:
    return {"Get": reference}


@pytest.fixture(scope="module")
def definition(local_target) -> dict:
    from ml import pipeline

    return pipeline.build_definition("experimental", local_target)


@pytest.fixture(scope="module")
def steps(definition) -> dict[str, dict]:
    """Every step by name, the condition's branches included."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            found.update({inner["Name"]: inner for inner in step.get("Arguments", {}).get(branch, [])})
    return found


def test_steps_and_their_types(definition, steps):
    assert [step["Name"] for step in definition["Steps"]] == ["Preprocess", "Train", "Evaluate", "CheckQuality"]
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckQuality": "Condition",
        "RegisterModel": "RegisterModel",
        "Fail": "Fail",
    }
    assert definition["Version"] == "2020-12-01"


def test_parameters_and_defaults(definition, local_target):
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    assert parameters["InputData"]["DefaultValue"] == f"s3://{local_target.bucket}/data/abalone.csv"
    assert parameters["RmseThreshold"]["Type"] == "Float"
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert {"ProcessingInstanceType", "TrainingInstanceType"} <= set(parameters)


def test_steps_are_wired_through_property_references(steps):
    preprocess_inputs = steps["Preprocess"]["Arguments"]["ProcessingInputs"]
    assert preprocess_inputs[0]["S3Input"]["S3Uri"] == get("Parameters.InputData")
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in steps["Train"]["Arguments"]["InputDataConfig"]
    }
    assert channels["train"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
    assert channels["validation"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri")
    evaluate_inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert evaluate_inputs["model"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert evaluate_inputs["test"] == get("Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri")
    arguments = steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--execution-id") + 1] == get("Execution.PipelineExecutionId")


def test_train_runs_the_sdk_driver_with_code_channels(steps, local_target):
    arguments = steps["Train"]["Arguments"]
    specification = arguments["AlgorithmSpecification"]
    assert specification["ContainerEntrypoint"] == ["/bin/bash"]
    assert "sm_drivers/sm_train.sh" in specification["ContainerArguments"][-1]
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in arguments["InputDataConfig"]}
    bucket, _, prefix = channels["code"].removeprefix("s3://").partition("/")
    keys = {o["Key"] for o in local_target.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert f"{prefix}/train.py" in keys, "the code channel must point at the uploaded scripts"
    assert "sm_drivers" in channels
    assert arguments["HyperParameters"]["n_estimators"] == "300"


def test_cache_config_on_preprocess_and_train_only(steps):
    assert steps["Preprocess"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert steps["Train"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert "CacheConfig" not in steps["Evaluate"]


def test_quality_gate_registers_or_fails_on_the_evaluation_report(steps, local_target):
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    rmse = {
        "Std:JsonGet": {
            "PropertyFile": get("Steps.Evaluate.PropertyFiles.EvaluationReport"),
            "Path": "regression_metrics.rmse.value",
        }
    }
    (condition,) = steps["CheckQuality"]["Arguments"]["Conditions"]
    assert condition == {"Type": "LessThanOrEqualTo", "LeftValue": rmse, "RightValue": get("Parameters.RmseThreshold")}
    register = steps["RegisterModel"]["Arguments"]
    assert register["ModelPackageGroupName"] == local_target.config.model_package_group("experimental")
    assert register["ModelApprovalStatus"] == get("Parameters.ModelApprovalStatus")
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"]["Std:Join"]["Values"] == [
        get("Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"),
        "evaluation.json",
    ]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    message = steps["Fail"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert rmse in message and get("Parameters.RmseThreshold") in message


def test_kpi_rows_go_to_the_configured_prefix(steps, local_target):
    outputs = {
        o["OutputName"]: o["S3Output"] for o in steps["Evaluate"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs["kpi"]["S3Uri"] == f"s3://{local_target.bucket}/{local_target.config.kpi_prefix}"


def test_two_builds_are_byte_identical_and_send_no_telemetry(definition, local_target):
    from sagemaker.core.telemetry import telemetry_logging

    from ml import pipeline

    with mock.patch.object(telemetry_logging, "_send_telemetry_request") as telemetry:
        again = pipeline.build_definition("experimental", local_target)
    assert json.dumps(again) == json.dumps(definition)
    telemetry.assert_not_called()


def test_variant_names_the_pipeline_and_model_group(local_target):
    from ml import pipeline

    stable = pipeline.build_definition("stable", local_target)
    register = stable["Steps"][-1]["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == local_target.config.model_package_group("stable")
    with pytest.raises(UserError, match="variant 'nightly'"):
        pipeline.build_definition("nightly", local_target)


def test_a_script_change_moves_the_code_uris(definition, local_target, tmp_path, monkeypatch):
    from ml import pipeline

    scripts = tmp_path / "scripts"
    shutil.copytree(pipeline.SCRIPTS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    with (scripts / "train.py").open("a") as handle:
        handle.write("# changed\n")
    monkeypatch.setattr(pipeline, "SCRIPTS_DIR", scripts)
    changed = pipeline.build_definition("experimental", local_target)

    def code_uris(built: dict) -> dict[str, str]:
        train = next(step for step in built["Steps"] if step["Name"] == "Train")
        return {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["Arguments"]["InputDataConfig"]
        }

    before, after = code_uris(definition), code_uris(changed)
    assert before["code"] != after["code"] and before["sm_drivers"] != after["sm_drivers"]
    assert changed["Steps"][0] == definition["Steps"][0], "Preprocess did not change, so its arguments must not"


def test_definition_inputs_cover_scripts_schema_and_config():
    from ml import pipeline

    inputs = pipeline.definition_inputs()
    names = {path.relative_to(REPO).as_posix() for path in inputs}
    assert {
        "ml/scripts/train.py",
        "ml/pipeline.py",
        "project.toml",
        "infra/kpi/model_kpis.json",
        "requirements.lock",
    } <= names
    assert all(path.is_file() for path in inputs)
    assert not any("__pycache__" in path.parts for path in inputs)


def test_train_accepts_the_hyperparameters_as_the_sdk_driver_passes_them(steps, tmp_path):
    from sagemaker.train.container_drivers.common.utils import hyperparameters_to_cli_args

    from ml.scripts import preprocess, train

    preprocess.run(REPO / "ml" / "data" / "abalone.csv", tmp_path / "splits")
    hyperparameters = steps["Train"]["Arguments"]["HyperParameters"]
    train.main(
        ["--train", str(tmp_path / "splits" / "train"), "--validation", str(tmp_path / "splits" / "validation")]
        + ["--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "output")]
        + hyperparameters_to_cli_args(hyperparameters)
    )
    record = json.loads((tmp_path / "model" / "training.json").read_text())
    assert {name: str(value) for name, value in record["hyperparameters"].items() if name in hyperparameters} == (
        hyperparameters
    )
