"""SageMaker pipelines on a target: create or update one from its definition, read it back, start it in AWS.

The definition is always sent inline (moto stores a Python repr for PipelineDefinitionS3Location), so the
pipeline record in the emulator holds exactly the JSON that AWS receives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from botocore.exceptions import ClientError

from localsage.adapters import api_rules
from localsage.errors import UserError

STEP_IMAGE_OUTPUT = "StepImageUri"
JSON_GET = "Std:JsonGet"


@dataclass(frozen=True)
class PipelineRequest:
    """The call an upsert makes: CreatePipeline or UpdatePipeline, and its request exactly as sent."""

    operation: str
    request: dict


def upsert_request(target, pipeline_name: str, definition: dict, role_arn: str | None = None) -> PipelineRequest:
    """The CreatePipeline (inline definition, project tags) or UpdatePipeline request for the pipeline, refused
    here when SageMaker would refuse it (the emulator takes any size and any name). It reads, never writes."""
    role = role_arn or target.config.execution_role_arn(target.account)
    request = {"PipelineName": pipeline_name, "PipelineDefinition": json.dumps(definition), "RoleArn": role}
    if pipeline_exists(target.client("sagemaker"), pipeline_name):
        operation = "UpdatePipeline"
    else:
        operation = "CreatePipeline"
        request["Tags"] = target.config.tag_list
    found = api_rules.violations("sagemaker", operation, request)
    if found:
        raise UserError(f"{operation} {pipeline_name}: {api_rules.summary(found)}")
    return PipelineRequest(operation, request)


def upsert_pipeline(target, pipeline_name: str, definition: dict, role_arn: str | None = None) -> tuple[str, bool]:
    """Create the pipeline or update it in place (see `upsert_request`): (its ARN, whether it was new)."""
    return send(target, upsert_request(target, pipeline_name, definition, role_arn))


def send(target, call: PipelineRequest) -> tuple[str, bool]:
    """Make the upsert `call`: (the pipeline's ARN, whether it was created)."""
    sagemaker = target.client("sagemaker")
    if call.operation == "UpdatePipeline":
        return sagemaker.update_pipeline(**call.request)["PipelineArn"], False
    try:
        return sagemaker.create_pipeline(**call.request)["PipelineArn"], True
    except ClientError as exc:
        # Another run created it after this one looked (two local-runs of a new pipeline at once): update it.
        if "already exists" not in exc.response["Error"].get("Message", ""):
            raise
    accepted = sagemaker.meta.service_model.operation_model("UpdatePipeline").input_shape.members
    update = {key: value for key, value in call.request.items() if key in accepted}
    return sagemaker.update_pipeline(**update)["PipelineArn"], False


def pipeline_exists(sagemaker, pipeline_name: str) -> bool:
    return _described(sagemaker, pipeline_name) is not None


def deployed_definition(target, pipeline_name: str) -> dict:
    """The definition SageMaker holds for `pipeline_name`; a one-line error when it was never upserted."""
    described = _described(target.client("sagemaker"), pipeline_name)
    if described is None:
        raise UserError(f"pipeline {pipeline_name} does not exist in {target.kind}: run './dev upsert' first")
    return json.loads(described["PipelineDefinition"])


def _described(sagemaker, pipeline_name: str) -> dict | None:
    """DescribePipeline's answer, or None when there is no such pipeline."""
    try:
        return sagemaker.describe_pipeline(PipelineName=pipeline_name)
    except ClientError as exc:
        # SageMaker answers ResourceNotFound; the emulator a ValidationException saying it could not find it.
        if exc.response["Error"]["Code"] == "ResourceNotFound" or "find" in exc.response["Error"].get("Message", ""):
            return None
        raise


def quality_metric_path(definition: dict) -> str | None:
    """The JSON path of the metric the definition's quality gate reads (the first `Std:JsonGet` of a Condition
    step, e.g. `regression_metrics.rmse.value`), or None when it has no such gate."""

    def first_json_get(value: object) -> str | None:
        if isinstance(value, dict):
            if JSON_GET in value and isinstance(value[JSON_GET].get("Path"), str):
                return value[JSON_GET]["Path"]
            return next(filter(None, (first_json_get(item) for item in value.values())), None)
        if isinstance(value, list):
            return next(filter(None, (first_json_get(item) for item in value)), None)
        return None

    for step in definition.get("Steps", []):
        if step.get("Type") == "Condition":
            found = first_json_get(step.get("Arguments", {}).get("Conditions", []))
            if found:
                return found
    return None


def check_role_exists(target, role_arn: str) -> None:
    """Stop with one line when the role is missing; go on (with a note) when IAM does not let us look."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        target.client("iam").get_role(RoleName=name)
    except ClientError as exc:
        code = exc.response["Error"].get("Code", "")
        if code == "NoSuchEntity":
            raise UserError(
                f"role {role_arn} does not exist in account {target.account}: deploy the ML platform stack "
                "('./dev deploy --aws --stacks ml-platform') or pass --role-arn"
            ) from None
        message = exc.response["Error"].get("Message", "")
        raise UserError(f"cannot read role {role_arn} ({code}: {message}): your credentials need iam:GetRole") from None


def deployed_step_image(target) -> str:
    """The step image CDK published (the ML platform stack's output): the image the pipeline's jobs run in AWS."""
    stack = target.config.stack_names["ml-platform"]
    try:
        described = target.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" not in exc.response["Error"].get("Message", ""):
            raise  # access or credential problems are reported as what they are
        raise UserError(
            f"stack {stack} is not deployed in account {target.account}: run './dev deploy --aws --stacks ml-platform'"
        ) from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    if STEP_IMAGE_OUTPUT not in outputs:
        raise UserError(
            f"stack {stack} has no {STEP_IMAGE_OUTPUT} output (was it deployed without docker/Dockerfile?): "
            "deploy it from this repository with './dev deploy --aws --stacks ml-platform'"
        )
    return outputs[STEP_IMAGE_OUTPUT]


def start_execution(target, pipeline_name: str, parameters: dict[str, object]) -> str:
    """StartPipelineExecution with `parameters` (values as text, as the API takes them); the execution ARN."""
    started = target.client("sagemaker").start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineParameters=[{"Name": name, "Value": str(value)} for name, value in parameters.items()],
    )
    return started["PipelineExecutionArn"]
