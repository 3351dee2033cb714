"""Processing steps: the CreateProcessingJob contract (inputs under /opt/ml/processing, outputs uploaded at the end)."""

from __future__ import annotations

import json

from localsage.errors import UserError
from localsage.runner import s3io
from localsage.runner.backends import ContainerSpec
from localsage.runner.definition import Step
from localsage.runner.steps import StepContext, StepResult


def resource_config(instance_type: str) -> dict:
    """/opt/ml/(input/)config/resourceconfig.json of a one-instance job, as SageMaker writes it."""
    return {
        "current_host": "algo-1",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": ["algo-1"]}
        ],
        "network_interface_name": "eth0",
    }


class ProcessingHandler:
    step_type = "Processing"
    cacheable = True

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

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        s3 = context.client("s3")
        job_name = context.job_name()
        inputs = arguments.get("ProcessingInputs", [])
        for index, item in enumerate(inputs):
            s3_input = item["S3Input"]
            local = context.container_path(s3_input["LocalPath"], f"ProcessingInputs[{index}].S3Input.LocalPath")
            s3io.download(s3, s3_input["S3Uri"], local, f"{context.step.where}input {item.get('InputName', index)}")
        outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        local_outputs = []
        for index, item in enumerate(outputs):
            local = context.container_path(
                item["S3Output"]["LocalPath"], f"ProcessingOutputConfig.Outputs[{index}].S3Output.LocalPath"
            )
            local.mkdir(parents=True, exist_ok=True)
            local_outputs.append((item, local))
        config_dir = context.opt_ml / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "processingjobconfig.json").write_text(
            json.dumps({**arguments, "ProcessingJobName": job_name}, indent=2)
        )
        instance_type = arguments.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceType", "local")
        (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(str(instance_type))))
        app = arguments["AppSpecification"]
        code_dirs = [
            context.container_path(item["S3Input"]["LocalPath"], "LocalPath")
            for item in inputs
            if item.get("InputName") == "code"
        ]
        context.run_container(
            ContainerSpec(
                name=job_name,
                image=app["ImageUri"],
                command=[*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])],
                environment={key: str(value) for key, value in arguments.get("Environment", {}).items()},
                opt_ml=context.opt_ml,
                logs=context.logs,
                code_dirs=code_dirs,
            )
        )
        for item, local in local_outputs:
            s3io.upload_folder(s3, local, item["S3Output"]["S3Uri"])
        return StepResult(
            {
                "ProcessingJobName": job_name,
                "ProcessingJobArn": context.arn("processing-job", job_name),
                "ProcessingJobStatus": "Completed",
                "AppSpecification": app,
                "ProcessingInputs": inputs,
                "ProcessingOutputConfig": {
                    **arguments.get("ProcessingOutputConfig", {}),
                    "Outputs": {item["OutputName"]: item for item in outputs},
                },
                "Environment": arguments.get("Environment", {}),
                "RoleArn": arguments.get("RoleArn"),
            }
        )
