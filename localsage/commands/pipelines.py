"""`./dev upsert` and `./dev start`: the project's pipeline in SageMaker, the same calls locally and in AWS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from localsage.adapters import targets
from localsage.commands.flags import split_params
from localsage.commands.local_run import local_run, prepared_project_definition
from localsage.errors import UserError
from localsage.facts.config import check_variant
from localsage.operations import pipelines
from localsage.project.build import build
from localsage.runner import preflight
from localsage.runner.definition import load
from localsage.runner.orchestrator import check, check_requests
from localsage.views.console import console, print_json, say
from localsage.views.executions import finish_execution


@dataclass(frozen=True)
class Upserted:
    """What `upsert` did (or, dry, would do): the pipeline's name and ARN, where it lives (local or aws), and
    the request it sent."""

    pipeline_name: str
    pipeline_arn: str
    where: str
    created: bool
    call: pipelines.PipelineRequest
    dry_run: bool = False


def upsert(
    variant: str = "experimental",
    use_aws: bool = False,
    role_arn: str | None = None,
    root: Path | None = None,
    say: Callable[[str], None] = print,
    local: bool = False,
    dry_run: bool = False,
    target: targets.Target | None = None,
) -> Upserted:
    """Build ml/pipeline.py's definition for `variant` and create or update that pipeline on the target; locally
    also upload the sample data and create the model package group, so any SageMaker client can start it.

    `role_arn` is the role SageMaker Pipelines runs the pipeline as (default: the project's execution role);
    the jobs keep the roles written in the definition. In AWS the role is checked before anything else, and
    the definition is built fresh against AWS with the step image the ML platform stack published. Every step's
    request and the pipeline request itself are checked as SageMaker checks them. `dry_run`: the same reads and
    checks, and the request is returned, but nothing is uploaded, created or sent. `target`: where to act instead
    of the flags' choice (the permission replay gives a role's, `targets.as_role`).
    """
    check_variant(variant)
    target = target or targets.select(targets.aws_chosen(local, use_aws), root, say)
    role = role_arn or target.config.execution_role_arn(target.account)
    if not target.is_local:
        pipelines.check_role_exists(target, role)
    if dry_run:
        image = None if target.is_local else pipelines.deployed_step_image(target)
        say("upsert: dry run: building the pipeline definition with the SageMaker SDK (nothing is uploaded)")
        definition = build(target, variant, image_uri=image, dry_run=True).definition
    elif target.is_local:
        # With what its first execution needs: any client may start it now.
        definition, _ = prepared_project_definition(target, variant, say)
    else:
        say("upsert: building the pipeline definition with the SageMaker SDK")
        definition = build(target, variant, image_uri=pipelines.deployed_step_image(target)).definition
    checked = load(definition)
    check(checked)
    check_requests(checked)
    name = target.config.pipeline_name(variant)
    call = pipelines.upsert_request(target, name, definition, role)
    if dry_run:
        return Upserted(name, "", target.kind, call.operation == "CreatePipeline", call, dry_run=True)
    arn, created = pipelines.send(target, call)
    return Upserted(name, arn, target.kind, created, call)


def upsert_task(**options) -> None:
    upserted = upsert(say=say, **options)
    if upserted.dry_run:
        say(f"upsert: dry run: would call {upserted.call.operation} on {upserted.pipeline_name} ({upserted.where}):")
        print_json({"Operation": upserted.call.operation, "Request": upserted.call.request})
        return
    say(f"upsert: {'created' if upserted.created else 'updated'} {upserted.pipeline_name} ({upserted.where})")
    console.print(upserted.pipeline_arn, markup=False)


def start(
    variant: str = "experimental",
    params: dict[str, str] | None = None,
    use_aws: bool = False,
    root: Path | None = None,
    say: Callable[[str], None] = print,
    local: bool = False,
):
    """Start an execution: in AWS through SageMaker (the upserted pipeline, its ARN); locally with the local
    runner (the finished execution record).

    A `Name=Value` that is not a parameter of the pipeline, or has the wrong type, stops before anything runs,
    and so does an input or model package group that does not exist (pre-flight).
    """
    check_variant(variant)
    overrides = params or {}
    if not targets.aws_chosen(local, use_aws):
        return local_run(variant, params=overrides, say=say, root=root)
    target = targets.real_aws(root)
    pipeline_name = target.config.pipeline_name(variant)
    definition = load(pipelines.deployed_definition(target, pipeline_name))
    # In AWS a missing input fails its step minutes later (the sample data is only uploaded by local runs).
    preflight.check(definition, definition.resolve_parameters(overrides), target)
    return pipelines.start_execution(target, pipeline_name, overrides)


def start_task(params: list[str] | None = None, **options) -> None:
    started = start(params=split_params(params), say=say, **options)
    if isinstance(started, str):
        console.print(started, markup=False)
    else:
        finish_execution(started)


def answer_callback(
    token: str,
    success: bool,
    outputs: list[str] | None = None,
    reason: str | None = None,
    root: Path | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """Answer a waiting Callback step through the emulator's SageMaker API, as any client would; the ARN of the
    execution it belongs to."""
    parameters = [{"Name": name, "Value": value} for name, value in split_params(outputs, "--output").items()]
    sagemaker = targets.local(root, say).client("sagemaker")
    try:
        if success:
            answer = sagemaker.send_pipeline_execution_step_success(CallbackToken=token, OutputParameters=parameters)
        else:
            answer = sagemaker.send_pipeline_execution_step_failure(
                CallbackToken=token, **({"FailureReason": reason} if reason else {})
            )
    except ClientError as exc:
        raise UserError(f"callback {token}: {exc.response['Error']['Message']}") from None
    return answer["PipelineExecutionArn"]


def callback_task(token: str, success: bool, failure: bool, outputs: list[str] | None, reason: str | None) -> None:
    if success == failure:
        raise UserError("callback: give exactly one of --success and --failure")
    if failure and outputs:
        raise UserError("callback: --output goes with --success (a failed step has no outputs)")
    arn = answer_callback(token, success, outputs, reason, say=say)
    say(f"callback {token}: answered {'success' if success else 'failure'} for {arn}")
