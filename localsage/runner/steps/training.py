"""Training steps: the CreateTrainingJob contract (channels, config files, model.tar.gz upload).

Two ways a training container finds its code, both supported:
- SDK v3 ModelTrainer: `ContainerEntrypoint` runs the `sm_train.sh` driver that arrives, with the
  source code, as the input channels `sm_drivers` and `code`;
- SDK v2 framework estimators: hyperparameters `sagemaker_program` and `sagemaker_submit_directory`
  (a sourcedir.tar.gz in S3) that the framework image's training toolkit unpacks into /opt/ml/code and
  runs with the hyperparameters as `--name value` arguments; this handler does what the toolkit does.
"""

from __future__ import annotations

import json
import os

from localsage.errors import UserError
from localsage.runner import s3io
from localsage.runner.backends import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.steps import StepContext, StepResult
from localsage.runner.steps.processing import resource_config

V2_PROGRAM = "sagemaker_program"
V2_SOURCE = "sagemaker_submit_directory"


def _hyperparameter(value: str) -> str:
    """v2 estimators JSON-encode hyperparameter values ("\"train.py\""); v3 passes plain strings."""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    return decoded if isinstance(decoded, str) else value


class TrainingHandler:
    step_type = "Training"
    cacheable = True

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

    def input_uris(self, arguments: dict) -> list[str]:
        uris = [channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in arguments.get("InputDataConfig", [])]
        source = arguments.get("HyperParameters", {}).get(V2_SOURCE)
        return uris + ([_hyperparameter(source)] if source else [])

    def output_uris(self, properties: dict) -> list[str]:
        return [properties["ModelArtifacts"]["S3ModelArtifacts"]]

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        s3 = context.client("s3")
        job_name = context.job_name()
        opt_ml = context.opt_ml
        channels = arguments.get("InputDataConfig", [])
        for channel in channels:
            name = channel["ChannelName"]
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            s3io.download(s3, uri, opt_ml / "input" / "data" / name, f"{context.step.where}channel {name}")
        hyperparameters = {key: str(value) for key, value in arguments.get("HyperParameters", {}).items()}
        config_dir = opt_ml / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2))
        instance_type = str(arguments.get("ResourceConfig", {}).get("InstanceType", "local"))
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(instance_type)))
        (config_dir / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    channel["ChannelName"]: {
                        "TrainingInputMode": channel.get("InputMode", "File"),
                        "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                            "S3DataDistributionType", "FullyReplicated"
                        ),
                        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                        **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
                    }
                    for channel in channels
                },
                indent=2,
            )
        )
        for folder in ("model", "output/data", "code"):
            (opt_ml / folder).mkdir(parents=True, exist_ok=True)
        algorithm = arguments["AlgorithmSpecification"]
        environment = {key: str(value) for key, value in arguments.get("Environment", {}).items()}
        environment.update(self._sagemaker_variables(hyperparameters, [c["ChannelName"] for c in channels], job_name))
        if "ContainerEntrypoint" in algorithm:
            command = [*algorithm["ContainerEntrypoint"], *algorithm.get("ContainerArguments", [])]
            code_dirs = [opt_ml / "input" / "data" / name for name in ("code", "sm_drivers")]
        else:
            command = self._framework_command(s3, hyperparameters, context)
            code_dirs = [opt_ml / "code"]
        context.run_container(
            ContainerSpec(
                name=job_name,
                image=algorithm["TrainingImage"],
                command=command,
                environment=environment,
                opt_ml=opt_ml,
                logs=context.logs,
                code_dirs=[folder for folder in code_dirs if folder.is_dir()],
            )
        )
        output_uri = f"{arguments['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job_name}/output"
        packed = s3io.pack(opt_ml / "model", context.work_dir / "model.tar.gz")
        s3io.upload_file(s3, packed, f"{output_uri}/model.tar.gz")
        if any((opt_ml / "output" / "data").iterdir()):
            s3io.upload_file(
                s3,
                s3io.pack(opt_ml / "output" / "data", context.work_dir / "output.tar.gz"),
                f"{output_uri}/output.tar.gz",
            )
        return StepResult(
            {
                "TrainingJobName": job_name,
                "TrainingJobArn": context.arn("training-job", job_name),
                "TrainingJobStatus": "Completed",
                "ModelArtifacts": {"S3ModelArtifacts": f"{output_uri}/model.tar.gz"},
                "AlgorithmSpecification": algorithm,
                "HyperParameters": hyperparameters,
                "OutputDataConfig": arguments["OutputDataConfig"],
                "InputDataConfig": channels,
                "RoleArn": arguments.get("RoleArn"),
                "FinalMetricDataList": [],
            }
        )

    @staticmethod
    def _sagemaker_variables(hyperparameters: dict, channels: list[str], job_name: str) -> dict[str, str]:
        """The SM_* variables the training toolkit and the v3 drivers give a training script."""
        user_hyperparameters = {
            key: _hyperparameter(value) for key, value in hyperparameters.items() if not key.startswith("sagemaker_")
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

    @staticmethod
    def _framework_command(s3, hyperparameters: dict, context: StepContext) -> list[str]:
        program = _hyperparameter(hyperparameters[V2_PROGRAM])
        source = hyperparameters.get(V2_SOURCE)
        code = context.opt_ml / "code"
        if source:
            archive = context.work_dir / "sourcedir.tar.gz"
            s3.download_file(*s3io.split_uri(_hyperparameter(source)), str(archive))
            s3io.unpack(archive, code)
        if not (code / program).is_file():
            raise UserError(f"{context.step.where}sagemaker_program {program} is not in {V2_SOURCE}")
        arguments = []
        for key, value in hyperparameters.items():
            if not key.startswith("sagemaker_"):
                arguments += [f"--{key}", _hyperparameter(value)]
        return ["python3", f"/opt/ml/code/{program}", *arguments]
