"""`./dev upsert` and `./dev start`: the project's pipeline in SageMaker, the same calls locally and in AWS.

The definition is always sent inline (moto stores a Python repr for PipelineDefinitionS3Location), so the
pipeline record in the emulator holds exactly the JSON that AWS receives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from localsage import targets
from localsage.cli import split_params
from localsage.config import check_variant
from localsage.errors import UserError


@dataclass(frozen=True)
class Upserted:
    """What `upsert` did: the pipeline's name and ARN, and where it lives (local or aws)."""

    pipeline_name: str
    pipeline_arn: str
    where: str
    created: bool


@dataclass(frozen=True)
class Started:
    """A started execution: in AWS only its ARN; locally the finished execution record as well."""

    execution_arn: str
    record: object | None = None


def upsert_pipeline(target, pipeline_name: str, definition: dict, role_arn: str | None = None) -> tuple[str, bool]:
    """Create the pipeline (inline definition, project tags) or update it in place: (its ARN, whether it was new)."""
    sagemaker = target.client("sagemaker")
    body = json.dumps(definition)
    role = role_arn or target.config.execution_role_arn(target.account)
    if _pipeline_exists(sagemaker, pipeline_name):
        updated = sagemaker.update_pipeline(PipelineName=pipeline_name, PipelineDefinition=body, RoleArn=role)
        return updated["PipelineArn"], False
    created = sagemaker.create_pipeline(
        PipelineName=pipeline_name,
        PipelineDefinition=body,
        RoleArn=role,
        Tags=[{"Key": key, "Value": value} for key, value in target.config.tags.items()],
    )
    return created["PipelineArn"], True


def _pipeline_exists(sagemaker, pipeline_name: str) -> bool:
    try:
        sagemaker.describe_pipeline(PipelineName=pipeline_name)
        return True
    except ClientError as exc:
        # SageMaker answers ResourceNotFound; the emulator a ValidationException saying it could not find it.
        if exc.response["Error"]["Code"] == "ResourceNotFound" or "find" in exc.response["Error"].get("Message", ""):
            return False
        raise


def upsert(
    variant: str = "experimental",
    use_aws: bool = False,
    role_arn: str | None = None,
    root: Path | None = None,
    say: Callable[[str], None] = print,
    local: bool = False,
) -> Upserted:
    """Build ml/pipeline.py's definition for `variant` and create or update that pipeline on the target.

    `role_arn` is the role SageMaker Pipelines runs the pipeline as (default: the project's execution role);
    the jobs keep the roles written in the definition. In AWS the role is checked before anything else.
    """
    check_variant(variant)
    target = targets.select(aws_chosen(local, use_aws), root, say)
    role = role_arn or target.config.execution_role_arn(target.account)
    if not target.is_local:
        check_role_exists(target, role)
    arn, created = upsert_pipeline(
        target, target.config.pipeline_name(variant), pipeline_definition(target, variant, say), role
    )
    return Upserted(target.config.pipeline_name(variant), arn, target.kind, created)


def aws_chosen(local: bool, aws: bool) -> bool:
    """`--local` (the default) or `--aws`: both at once is a mistake worth one line."""
    if local and aws:
        raise UserError("--local and --aws exclude each other: pass one (local is the default)")
    return aws


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
        raise UserError(f"cannot read role {role_arn} ({code}): your credentials need iam:GetRole") from None


def pipeline_definition(target, variant: str, say: Callable[[str], None] = print) -> dict:
    """The definition to upsert: locally the runner's cached build; in AWS a fresh build against AWS."""
    from localsage.runner.local_run import pipeline_module, project_definition

    if target.is_local:
        return project_definition(target, variant, say)
    say("upsert: building the pipeline definition with the SageMaker SDK")
    return pipeline_module(target.root).build_definition(variant, target, image_uri=deployed_step_image(target))


STEP_IMAGE_OUTPUT = "StepImageUri"


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


def start(
    variant: str = "experimental",
    params: list[str] | None = None,
    use_aws: bool = False,
    root: Path | None = None,
    say: Callable[[str], None] = print,
    local: bool = False,
) -> Started:
    """Start an execution: in AWS through SageMaker (the upserted pipeline); locally with the local runner.

    A `Name=Value` that is not a parameter of the pipeline, or has the wrong type, stops before anything runs.
    """
    check_variant(variant)
    overrides = split_params(params)
    if not aws_chosen(local, use_aws):
        from localsage.runner.local_run import local_run

        record = local_run(variant, params=overrides, say=say, root=root)
        return Started(record.execution_arn, record)
    target = targets.real_aws(root)
    pipeline_name = target.config.pipeline_name(variant)
    check_parameters(deployed_definition(target, pipeline_name), overrides)
    started = target.client("sagemaker").start_pipeline_execution(
        PipelineName=pipeline_name,
        PipelineParameters=[{"Name": name, "Value": value} for name, value in overrides.items()],
    )
    return Started(started["PipelineExecutionArn"])


def deployed_definition(target, pipeline_name: str) -> dict:
    """The definition SageMaker holds for `pipeline_name`; a one-line error when it was never upserted."""
    sagemaker = target.client("sagemaker")
    try:
        described = sagemaker.describe_pipeline(PipelineName=pipeline_name)
    except ClientError as exc:
        if exc.response["Error"].get("Code") in ("ResourceNotFound", "ValidationException"):
            raise UserError(
                f"pipeline {pipeline_name} does not exist in {target.kind}: run './dev upsert' first"
            ) from None
        raise
    return json.loads(described["PipelineDefinition"])


def check_parameters(definition: dict, overrides: dict[str, str]) -> dict[str, object]:
    """The typed parameter values; a DefinitionError listing the parameters for an unknown name or a bad type."""
    from localsage.runner.definition import load

    return load(definition).resolve_parameters(overrides)
