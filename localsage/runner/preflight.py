"""Pre-flight: what a definition reads and writes into exists before its first step runs.

A missing input or model package group otherwise fails the step that needs it, possibly the last one after
minutes of work. Only what is known when the run starts is checked: literal values and parameters. A value
that comes from another step (its properties, the execution's id) is left to that step, and so is an input
under a URI that another step of the definition writes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from botocore.exceptions import ClientError

from localsage.adapters import api_rules, s3io
from localsage.errors import UserError
from localsage.runner.definition import PipelineDefinition, Step
from localsage.runner.expressions import EXECUTION_VARIABLES, Context, EvaluationError, resolve
from localsage.runner.steps.base import StepType
from localsage.runner.steps.registry import step_types

# Stands in for every value known only once the run is under way; a URI holding it is not checked.
LATER = "\x00known-once-running\x00"


def missing(
    definition: PipelineDefinition,
    parameters: Mapping[str, object],
    target,
    types: Mapping[str, StepType] | None = None,
    present: Collection[str] = (),
) -> list[str]:
    """One line per input or model package group that a step needs and that does not exist on `target`;
    `present`: URIs and groups the caller has just made or found, not looked up again."""
    types = types or step_types()
    known = {name: _known_now(step, parameters) for name, step in definition.steps.items() if step.stub is None}
    written = [
        uri
        for name, arguments in known.items()
        if arguments is not None
        for uri in types[definition.steps[name].type].written_uris(arguments)
    ]
    problems: list[str] = []
    for name, arguments in known.items():
        if arguments is None:
            continue
        step = definition.steps[name]
        step_type = types[step.type]
        for uri in step_type.input_uris(arguments):
            if not _s3(uri) or uri in present or _written_by_a_step(uri, written):
                continue
            if not _s3_exists(target, uri):
                problems.append(
                    f"{step.where}input {uri} does not exist in {target.kind}: upload it, or point the step "
                    "(or the parameter that names it, with --param) at data that exists"
                )
        for group in step_type.needed_groups(arguments):
            if _checkable(group) and group not in present and not _group_exists(target, group):
                problems.append(
                    f"{step.where}model package group {group} does not exist in {target.kind}: create it "
                    f"(aws sagemaker create-model-package-group --model-package-group-name {group})"
                )
    return problems


def check(
    definition: PipelineDefinition, parameters: Mapping[str, object], target, present: Collection[str] = ()
) -> None:
    """Refuse the run, before anything runs, when something it needs is missing (the first, and how many more)."""
    problems = missing(definition, parameters, target, present=present)
    if problems:
        raise UserError(api_rules.summary(problems))


def _known_now(step: Step, parameters: Mapping[str, object]) -> dict | None:
    context = Context(
        parameters=parameters,
        execution=dict.fromkeys(EXECUTION_VARIABLES, LATER),
        step_property=lambda step_name, parts: LATER,
        property_file_uri=lambda step_name, file_name: LATER,
        read_json=lambda uri: LATER,
    )
    try:
        return resolve(step.arguments, context)
    except EvaluationError:
        return None


def _checkable(value: object) -> bool:
    return isinstance(value, str) and LATER not in value


def _s3(uri: object) -> bool:
    return _checkable(uri) and uri.startswith("s3://")


def _written_by_a_step(uri: str, written: list[str]) -> bool:
    """The input is under what a step writes, or holds it: that step makes it exist."""
    return any(uri.startswith(prefix) or prefix.startswith(uri) for prefix in written if _s3(prefix))


def _s3_exists(target, uri: str) -> bool:
    """What the step would download: the object at the URI, else the objects under it as a prefix. An answer
    other than "no such bucket" (e.g. AccessDenied in AWS) leaves the question to the step."""
    try:
        return s3io.exists(target.client("s3"), uri)
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") != "NoSuchBucket"


def _group_exists(target, group: str) -> bool:
    """SageMaker answers a missing group with a ValidationException naming it; any other error is left to the step."""
    try:
        target.client("sagemaker").describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound")
    return True
