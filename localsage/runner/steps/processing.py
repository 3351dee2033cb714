"""Processing steps: the CreateProcessingJob contract (inputs under /opt/ml/processing, outputs uploaded at the end)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from localsage.adapters import s3io
from localsage.errors import UserError
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepContext
from localsage.runner.steps.container_job import ContainerJob, resource_config

CODE_INPUT = "code"


class Processing(ContainerJob):
    type_name = "Processing"
    job_kind = "ProcessingJob"
    arn_resource = "processing-job"
    cache_key_attributes = ("AppSpecification", "Environment", "ProcessingInputs")
    describe_operation = "DescribeProcessingJob"
    create_operation = "CreateProcessingJob"
    name_member = "ProcessingJobName"
    locally = "its container in the backend; inputs and outputs through the emulator's S3"

    def check(self, step: Step) -> None:
        for index, item in enumerate(step.arguments.get("ProcessingInputs", [])):
            where = f"{step.where}ProcessingInputs[{index}]"
            if "S3Input" not in item:
                raise UserError(f"{where} is not an S3Input (DatasetDefinition inputs are not supported locally)")
            s3_input = item["S3Input"]
            if s3_input.get("S3DataType", "S3Prefix") not in ("S3Prefix",):
                raise UserError(f"{where}.S3Input.S3DataType {s3_input['S3DataType']} is not supported: use S3Prefix")
            if s3_input.get("S3CompressionType", "None") != "None":
                raise UserError(f"{where}.S3Input.S3CompressionType is not supported locally: use None")
        if "ImageUri" not in step.arguments.get("AppSpecification", {}):
            raise UserError(f"{step.where}AppSpecification.ImageUri is missing")

    def input_uris(self, arguments: dict) -> list[str]:
        return [item["S3Input"]["S3Uri"] for item in arguments.get("ProcessingInputs", [])]

    def output_uris(self, properties: dict) -> list[str]:
        outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", {})
        return [output["S3Output"]["S3Uri"] for output in outputs.values()]

    def written_uris(self, arguments: dict) -> list[str]:
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return [output["S3Output"]["S3Uri"] for output in outputs if "S3Output" in output]

    def inputs(self, arguments: dict, context: StepContext) -> Iterator[tuple[str, Path, str]]:
        for index, item in enumerate(arguments.get("ProcessingInputs", [])):
            s3_input = item["S3Input"]
            local = context.container_path(s3_input["LocalPath"], f"ProcessingInputs[{index}].S3Input.LocalPath")
            yield s3_input["S3Uri"], local, f"input {item.get('InputName', index)}"

    def prepare(self, arguments: dict, context: StepContext) -> None:
        for _, local in self._outputs(arguments, context):
            local.mkdir(parents=True, exist_ok=True)
        config_dir = context.opt_ml / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "processingjobconfig.json").write_text(
            json.dumps({**arguments, "ProcessingJobName": context.job_name()}, indent=2)
        )
        instance_type = arguments.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceType", "local")
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(str(instance_type))))

    def container(self, arguments: dict, context: StepContext) -> ContainerSpec:
        app = arguments["AppSpecification"]
        code_dirs = [
            context.container_path(item["S3Input"]["LocalPath"], "LocalPath")
            for item in arguments.get("ProcessingInputs", [])
            if item.get("InputName") == CODE_INPUT
        ]
        return ContainerSpec(
            name=context.job_name(),
            image=app["ImageUri"],
            command=[*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])],
            environment={key: str(value) for key, value in arguments.get("Environment", {}).items()},
            opt_ml=context.opt_ml,
            logs=context.logs,
            code_dirs=code_dirs,
        )

    def upload_outputs(self, arguments: dict, context: StepContext) -> None:
        s3 = context.client("s3")
        for item, local in self._outputs(arguments, context):
            s3io.upload_folder(s3, local, item["S3Output"]["S3Uri"])

    def properties(self, arguments: dict, context: StepContext) -> dict:
        job_name = context.job_name()
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return {
            "ProcessingJobName": job_name,
            "ProcessingJobArn": context.arn(self.arn_resource, job_name),
            "ProcessingJobStatus": "Completed",
            "AppSpecification": arguments["AppSpecification"],
            "ProcessingInputs": arguments.get("ProcessingInputs", []),
            "ProcessingOutputConfig": {
                **arguments.get("ProcessingOutputConfig", {}),
                "Outputs": {item["OutputName"]: item for item in outputs},
            },
            "Environment": arguments.get("Environment", {}),
            "RoleArn": arguments.get("RoleArn"),
        }

    @staticmethod
    def _outputs(arguments: dict, context: StepContext) -> list[tuple[dict, Path]]:
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return [
            (
                item,
                context.container_path(
                    item["S3Output"]["LocalPath"], f"ProcessingOutputConfig.Outputs[{i}].S3Output.LocalPath"
                ),
            )
            for i, item in enumerate(outputs)
        ]
