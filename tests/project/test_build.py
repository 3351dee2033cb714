"""The project's pipeline definition, built with the SageMaker SDK v3 from ml/pipeline.py against the emulator:
its shape and wiring, determinism across builds and checkouts, equality with the previous code path, quiet."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO
from projects import copy_project

from localsage.adapters import targets
from localsage.errors import UserError
from localsage.project import build, contract, layout

PREVIOUS = Path(__file__).parent / "data"
# The training channels' prefixes: `<base job>-<12 hex>/input/<channel>`.
TRAINING_PREFIX = re.compile(r"-[0-9a-f]{12}/input/(code|sm_drivers)\b")


def get(reference: str) -> dict:
    return {"Get": reference}


@pytest.fixture(scope="module")
def built(local_target) -> build.BuiltDefinition:
    return build.build(local_target, "experimental")


@pytest.fixture(scope="module")
def definition(built) -> dict:
    return built.definition


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
    top_level = ["Preprocess", "Train", "Evaluate", "CheckQuality", "CreateModel", "ScoreTest"]
    assert [step["Name"] for step in definition["Steps"]] == top_level
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckQuality": "Condition",
        "RegisterModel": "RegisterModel",
        "Fail": "Fail",
        "CreateModel": "Model",
        "ScoreTest": "Transform",
    }
    assert definition["Version"] == "2020-12-01"


def test_the_test_split_is_scored_by_the_model_that_serves_itself(steps):
    container = steps["CreateModel"]["Arguments"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == get("Steps.Train.ModelArtifacts.S3ModelArtifacts")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    score = steps["ScoreTest"]["Arguments"]
    assert score["ModelName"] == get("Steps.CreateModel.ModelName")
    assert score["DataProcessing"] == {"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]", "JoinSource": "Input"}
    registered = steps["RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]["Environment"]
    assert registered["SAGEMAKER_PROGRAM"] == "inference.py", "the registered version serves itself too"


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


def normalised(definition: dict) -> str:
    return TRAINING_PREFIX.sub(r"-<training hash>/input/\1", json.dumps(definition, indent=2))


@pytest.mark.parametrize("variant", ["experimental", "stable"])
def test_the_definition_equals_the_reviewed_one(local_target, variant):
    """The definitions as last reviewed (tests/project/data/previous-<variant>.json), byte for byte but the
    training channels' content hashes: a change in the toolkit's build must not change what ml/ builds. A change
    in ml/ that is meant changes them: rebuild them with `build.build(target, variant).definition` and review
    the difference."""
    previous = json.loads((PREVIOUS / f"previous-{variant}.json").read_text())
    current = build.build(local_target, variant).definition
    assert normalised(current) == normalised(previous)
    assert len(TRAINING_PREFIX.findall(json.dumps(current))) == 2


def test_two_builds_and_two_checkouts_give_byte_identical_definitions(built, local_target, tmp_path):
    again = build.build(local_target, "experimental")
    assert json.dumps(again.definition) == json.dumps(built.definition)
    elsewhere = targets.local(copy_project(tmp_path / "other-checkout", "abalone"), say=lambda message: None)
    assert json.dumps(build.build(elsewhere, "experimental").definition) == json.dumps(built.definition)


def test_every_upload_is_content_addressed_and_traced_to_its_source(built):
    sources = {upload.source: upload.uri for upload in built.uploads}
    assert set(sources) == {
        "ml/scripts/preprocess.py",
        "ml/scripts/evaluate.py",
        "ml/scripts",
        "infra/kpi/model_kpis.json",
        None,  # the SDK's own training drivers
    }
    assert re.search(r"/code/[0-9a-f]{16}/preprocess\.py$", sources["ml/scripts/preprocess.py"])
    assert re.search(r"/kpi-schema/[0-9a-f]{16}/model_kpis\.json$", sources["infra/kpi/model_kpis.json"])
    assert all(not re.search(r"\d{14}", upload.uri) for upload in built.uploads), "no build timestamps"


class ProxyRecorder:
    """An HTTP(S) proxy address that records who connects and answers nothing: any request that honours the
    proxy settings and is not for loopback (telemetry to AWS's fixed host) shows up here."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


def test_a_build_sends_no_telemetry_and_prints_nothing(local_target, monkeypatch, capfd):
    proxy = ProxyRecorder()
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, proxy.url)
    handlers = list(logging.getLogger().handlers)
    build.build(local_target, "experimental")
    time.sleep(1.0)  # the SDK sends telemetry from a daemon thread
    assert proxy.connections == 0
    assert logging.getLogger().handlers == handlers, "the SDK installs no root handler"
    captured = capfd.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_variant_names_the_pipeline_and_model_group(local_target):
    stable = build.build(local_target, "stable").definition
    check = next(step for step in stable["Steps"] if step["Name"] == "CheckQuality")
    register = check["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelPackageGroupName"] == local_target.config.model_package_group("stable")
    with pytest.raises(UserError, match="variant 'nightly'"):
        build.build(local_target, "nightly")


def test_the_toolkit_passes_exactly_the_contracts_arguments(local_target):
    assert build.build_arguments(local_target, "experimental", session=None).keys() == contract.BUILD_ARGUMENTS.keys()


def test_definition_inputs_cover_the_code_the_config_the_schema_and_the_lock():
    names = {path.relative_to(REPO).as_posix() for path in layout.definition_inputs(REPO)}
    assert {
        "ml/scripts/train.py",
        "ml/pipeline.py",
        "project.toml",
        "infra/kpi/model_kpis.json",
        "requirements/run.txt",
    } <= names
    assert not any(name.startswith(("ml/data/", "ml/notebooks/")) or name.endswith(".md") for name in names)
    assert not any("__pycache__" in name for name in names)


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


def test_the_build_never_simulates_the_role_even_where_nothing_else_turned_it_off(local_target, monkeypatch):
    """`upsert --aws` from a laptop: ModelTrainer(role=...) would validate the role with iam:SimulatePrincipalPolicy
    (refusing conditional grants, and unavailable to many callers)."""
    monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE", raising=False)
    assert build.build(local_target, "stable").definition["Steps"]
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ, "the build leaves the environment as it was"
