"""Training steps: the CreateTrainingJob contract (channels, config files, model.tar.gz upload).

Two ways a training container finds its code, both supported:
- SDK v3 ModelTrainer: `ContainerEntrypoint` runs the `sm_train.sh` driver that arrives, with the
  source code, as the input channels `sm_drivers` and `code`;
- SDK v2 framework estimators: hyperparameters `sagemaker_program` and `sagemaker_submit_directory`
  (a sourcedir.tar.gz in S3) that the framework image's training toolkit unpacks into /opt/ml/code and
  runs with the hyperparameters as `--name value` arguments; this step type does what the toolkit does.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from localsage.adapters import s3io
from localsage.errors import UserError
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepContext
from localsage.runner.steps.container_job import ContainerJob, resource_config

V2_PROGRAM = "sagemaker_program"
V2_SOURCE = "sagemaker_submit_directory"
CODE_CHANNELS = ("code", "sm_drivers")


def hyperparameter_value(value: str) -> str:
    """v2 estimators JSON-encode hyperparameter values ("\"train.py\""); v3 passes plain strings."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    return decoded if isinstance(decoded, str) else value


class Training(ContainerJob):
    type_name = "Training"
    job_kind = "TrainingJob"
    arn_resource = "training-job"
    cache_key_attributes = (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    )
    describe_operation = "DescribeTrainingJob"
    create_operation = "CreateTrainingJob"
    name_member = "TrainingJobName"
    locally = "its container in the backend (SDK v3 drivers, v2 framework toolkit, @step functions); model.tar.gz to S3"

    def check(self, step: Step) -> None:
        algorithm = step.arguments.get("AlgorithmSpecification", {})
        if "TrainingImage" not in algorithm:
            raise UserError(
                f"{step.where}AlgorithmSpecification.TrainingImage is missing (built-in algorithms by name "
                "are not supported locally)"
            )
        hyperparameters = step.arguments.get("HyperParameters", {})
        if "ContainerEntrypoint" not in algorithm and V2_PROGRAM not in hyperparameters:
            raise UserError(
                f"{step.where}the training image's own entrypoint cannot run without it: add "
                "ContainerEntrypoint (ModelTrainer) or sagemaker_program (framework estimator), or use --backend docker"
            )
        for index, channel in enumerate(step.arguments.get("InputDataConfig", [])):
            if "S3DataSource" not in channel.get("DataSource", {}):
                raise UserError(f"{step.where}InputDataConfig[{index}] is not an S3DataSource")
        for index, definition in enumerate(algorithm.get("MetricDefinitions", [])):
            regex = definition.get("Regex")
            try:
                re.compile(regex if isinstance(regex, str) else "")
            except re.error as exc:
                where = f"{step.where}AlgorithmSpecification.MetricDefinitions[{index}].Regex"
                raise UserError(f"{where} {regex!r} is not a regular expression ({exc})") from None

    def input_uris(self, arguments: dict) -> list[str]:
        uris = [channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in arguments.get("InputDataConfig", [])]
        source = arguments.get("HyperParameters", {}).get(V2_SOURCE)
        return uris + ([hyperparameter_value(source)] if source else [])

    def output_uris(self, properties: dict) -> list[str]:
        return [properties["ModelArtifacts"]["S3ModelArtifacts"]]

    def written_uris(self, arguments: dict) -> list[str]:
        written = [
            arguments.get("OutputDataConfig", {}).get("S3OutputPath"),
            arguments.get("CheckpointConfig", {}).get("S3Uri"),
        ]
        return [uri for uri in written if uri]

    def inputs(self, arguments: dict, context: StepContext) -> Iterator[tuple[str, Path, str]]:
        for channel in arguments.get("InputDataConfig", []):
            name = channel["ChannelName"]
            yield (
                channel["DataSource"]["S3DataSource"]["S3Uri"],
                context.opt_ml / "input" / "data" / name,
                f"channel {name}",
            )

    def prepare(self, arguments: dict, context: StepContext) -> None:
        channels = arguments.get("InputDataConfig", [])
        config_dir = context.opt_ml / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "hyperparameters.json").write_text(json.dumps(self._hyperparameters(arguments), indent=2))
        instance_type = str(arguments.get("ResourceConfig", {}).get("InstanceType", "local"))
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(instance_type)))
        (config_dir / "inputdataconfig.json").write_text(
            json.dumps({channel["ChannelName"]: _channel_config(channel) for channel in channels}, indent=2)
        )
        for folder in ("model", "output/data", "code"):
            (context.opt_ml / folder).mkdir(parents=True, exist_ok=True)

    def container(self, arguments: dict, context: StepContext) -> ContainerSpec:
        algorithm = arguments["AlgorithmSpecification"]
        hyperparameters = self._hyperparameters(arguments)
        channels = [channel["ChannelName"] for channel in arguments.get("InputDataConfig", [])]
        environment = {key: str(value) for key, value in arguments.get("Environment", {}).items()}
        environment.update(_sagemaker_variables(hyperparameters, channels, context.job_name()))
        if "ContainerEntrypoint" in algorithm:
            command = [*algorithm["ContainerEntrypoint"], *algorithm.get("ContainerArguments", [])]
            code_dirs = [context.opt_ml / "input" / "data" / name for name in CODE_CHANNELS]
        else:
            command = _framework_command(context.client("s3"), hyperparameters, context)
            code_dirs = [context.opt_ml / "code"]
        return ContainerSpec(
            name=context.job_name(),
            image=algorithm["TrainingImage"],
            command=command,
            environment=environment,
            opt_ml=context.opt_ml,
            logs=context.logs,
            code_dirs=[folder for folder in code_dirs if folder.is_dir()],
        )

    def upload_outputs(self, arguments: dict, context: StepContext) -> None:
        s3 = context.client("s3")
        output_uri = self._output_uri(arguments, context)
        packed = s3io.pack(context.opt_ml / "model", context.work_dir / "model.tar.gz")
        s3io.upload_file(s3, packed, f"{output_uri}/model.tar.gz")
        if any((context.opt_ml / "output" / "data").iterdir()):
            archive = s3io.pack(context.opt_ml / "output" / "data", context.work_dir / "output.tar.gz")
            s3io.upload_file(s3, archive, f"{output_uri}/output.tar.gz")

    def properties(self, arguments: dict, context: StepContext) -> dict:
        job_name = context.job_name()
        return {
            "TrainingJobName": job_name,
            "TrainingJobArn": context.arn(self.arn_resource, job_name),
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"{self._output_uri(arguments, context)}/model.tar.gz"},
            "AlgorithmSpecification": arguments["AlgorithmSpecification"],
            "HyperParameters": self._hyperparameters(arguments),
            "OutputDataConfig": arguments["OutputDataConfig"],
            "InputDataConfig": arguments.get("InputDataConfig", []),
            "RoleArn": arguments.get("RoleArn"),
            "FinalMetricDataList": final_metrics(arguments, context.logs / "output.log"),
        }

    @staticmethod
    def _hyperparameters(arguments: dict) -> dict[str, str]:
        return {key: str(value) for key, value in arguments.get("HyperParameters", {}).items()}

    @staticmethod
    def _output_uri(arguments: dict, context: StepContext) -> str:
        return f"{arguments['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{context.job_name()}/output"


def final_metrics(arguments: dict, log: Path) -> list[dict]:
    """The last value each of the algorithm's MetricDefinitions regexes finds in the job's output, as SageMaker
    reports them in FinalMetricDataList."""
    definitions = arguments.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    if not definitions or not log.is_file():
        return []
    text = log.read_text(encoding="utf-8", errors="replace")
    metrics = []
    for definition in definitions:
        values = []
        for match in re.finditer(definition["Regex"], text):
            try:
                values.append(float(match.group(1) if match.groups() else match.group(0)))
            except (ValueError, IndexError):
                continue
        if values:
            metrics.append({"MetricName": definition["Name"], "Value": values[-1], "Timestamp": log.stat().st_mtime})
    return metrics


def _channel_config(channel: dict) -> dict:
    source = channel["DataSource"]["S3DataSource"]
    return {
        "TrainingInputMode": channel.get("InputMode", "File"),
        "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
    }


def _sagemaker_variables(hyperparameters: dict, channels: list[str], job_name: str) -> dict[str, str]:
    """The SM_* variables the training toolkit and the v3 drivers give a training script."""
    user_hyperparameters = {
        key: hyperparameter_value(value) for key, value in hyperparameters.items() if not key.startswith("sagemaker_")
    }
    variables = {
        "SM_MODEL_DIR": "/opt/ml/model",
        "SM_INPUT_DIR": "/opt/ml/input",
        "SM_INPUT_CONFIG_DIR": "/opt/ml/input/config",
        "SM_OUTPUT_DIR": "/opt/ml/output",
        "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(user_hyperparameters),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_TRAINING_JOB_NAME": job_name,
        "TRAINING_JOB_NAME": job_name,
    }
    variables.update({f"SM_CHANNEL_{name.upper()}": f"/opt/ml/input/data/{name}" for name in channels})
    variables.update({f"SM_HP_{key.upper()}": value for key, value in user_hyperparameters.items()})
    return variables


def _framework_command(s3, hyperparameters: dict, context: StepContext) -> list[str]:
    """What an SDK v2 framework image's training toolkit runs: the program from the unpacked source dir."""
    program = hyperparameter_value(hyperparameters[V2_PROGRAM])
    source = hyperparameters.get(V2_SOURCE)
    code = context.opt_ml / "code"
    if source:
        archive = context.work_dir / "sourcedir.tar.gz"
        s3.download_file(*s3io.split_uri(hyperparameter_value(source)), str(archive))
        s3io.unpack(archive, code, f"{context.step.where}{V2_SOURCE} {source}")
    if not (code / program).is_file():
        raise UserError(f"{context.step.where}sagemaker_program {program} is not in {V2_SOURCE}")
    arguments = []
    for key, value in hyperparameters.items():
        if not key.startswith("sagemaker_"):
            arguments += [f"--{key}", hyperparameter_value(value)]
    return ["python3", f"/opt/ml/code/{program}", *arguments]
