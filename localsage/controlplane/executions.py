"""SageMaker's pipeline-execution operations, answered from the runner's records and run on this machine.

StartPipelineExecution (from any client: the SDKs, boto3, the CLI) records the execution and starts a worker
that runs the pipeline's stored definition with the runner, returning at once as SageMaker does. Describe,
List*, Stop and Retry read and act on the same records that `./dev local-run` writes, so every client sees the
truth about every local execution, whoever started it.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from localsage.controlplane.plane import STOP_REQUESTED, Plane
from localsage.controlplane.protocol import invalid, not_found, page
from localsage.errors import UserError
from localsage.runner.definition import load
from localsage.runner.orchestrator import Execution, check
from localsage.runner.records import ExecutionRecord, execution_arn, new_execution_id
from localsage.runner.run import latest_completed, new_record, selective_record
from localsage.runner.statuses import ExecutionStatus, StepStatus
from localsage.runner.steps.registry import step_types

LISTED_STEP_STATUSES = (StepStatus.EXECUTING, StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.STOPPED)


def start(plane: Plane, request: dict) -> dict:
    name = request["PipelineName"].rsplit("/", 1)[-1]
    token = request.get("ClientRequestToken")
    if token:
        earlier = [record for record in plane.executions.all() if record.client_token == token]
        if earlier:
            return {"PipelineExecutionArn": earlier[0].execution_arn}
    described = _pipeline(plane, name)
    try:
        definition = load(described["PipelineDefinition"])
        check(definition)
        overrides = {item["Name"]: item["Value"] for item in request.get("PipelineParameters", [])}
        parameters = definition.resolve_parameters(overrides)
    except UserError as exc:
        raise invalid(f"pipeline {name}: {exc}") from None
    execution_id = new_execution_id()
    execution = Execution(
        execution_id,
        execution_arn(described["PipelineArn"], execution_id),
        name,
        described["PipelineArn"],
        described.get("RoleArn"),
    )
    details = {
        "display_name": request.get("PipelineExecutionDisplayName"),
        "description": request.get("PipelineExecutionDescription"),
        "max_parallel_steps": (request.get("ParallelismConfiguration") or {}).get("MaxParallelExecutionSteps"),
        "client_token": token,
    }
    selective = request.get("SelectiveExecutionConfig")
    if selective:
        selected = [item["StepName"] for item in selective.get("SelectedSteps", [])]
        try:
            source = (
                _execution(plane, selective["SourcePipelineExecutionArn"])
                if selective.get("SourcePipelineExecutionArn")
                else latest_completed(plane.executions, name)
            )
            record = selective_record(plane.executions, definition, parameters, execution, selected, source, **details)
        except UserError as exc:
            raise invalid(f"SelectiveExecutionConfig: {exc}") from None
    else:
        record = new_record(plane.executions, definition, parameters, execution, **details)
    _launch(plane, record, "execution")
    return {"PipelineExecutionArn": record.execution_arn}


def describe(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    described = {
        "PipelineArn": record.pipeline_arn,
        "PipelineExecutionArn": record.execution_arn,
        "PipelineExecutionDisplayName": record.display_name or record.execution_id,
        "PipelineExecutionStatus": _status(plane, record),
        "CreationTime": record.started,
        "LastModifiedTime": record.last_modified,
    }
    if record.description:
        described["PipelineExecutionDescription"] = record.description
    if record.failure and record.status != ExecutionStatus.SUCCEEDED:
        described["FailureReason"] = record.failure
    if record.max_parallel_steps:
        described["ParallelismConfiguration"] = {"MaxParallelExecutionSteps": record.max_parallel_steps}
    if record.selected_steps is not None:
        described["SelectiveExecutionConfig"] = {
            "SourcePipelineExecutionArn": record.source_execution_arn,
            "SelectedSteps": [{"StepName": name} for name in record.selected_steps],
        }
    return described


def list_executions(plane: Plane, request: dict) -> dict:
    name = request["PipelineName"].rsplit("/", 1)[-1]
    records = [record for record in plane.executions.all() if record.pipeline_name == name]
    if request.get("CreatedAfter") is not None:
        records = [record for record in records if record.started > float(request["CreatedAfter"])]
    if request.get("CreatedBefore") is not None:
        records = [record for record in records if record.started < float(request["CreatedBefore"])]
    ascending = request.get("SortOrder") == "Ascending"
    records.sort(key=lambda record: record.started, reverse=not ascending)
    summaries = []
    for record in records:
        summary = {
            "PipelineExecutionArn": record.execution_arn,
            "StartTime": record.started,
            "PipelineExecutionStatus": _status(plane, record),
            "PipelineExecutionDisplayName": record.display_name or record.execution_id,
        }
        if record.failure and record.status != ExecutionStatus.SUCCEEDED:
            summary["PipelineExecutionFailureReason"] = record.failure
        summaries.append(summary)
    return page(summaries, request, "PipelineExecutionSummaries")


def list_steps(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    types = step_types()
    steps = []
    for step in record.steps.values():
        if step.status not in LISTED_STEP_STATUSES or step.started is None:
            continue
        listed = {
            "StepName": step.name,
            "StepDisplayName": step.name,
            "StartTime": step.started,
            "StepStatus": str(step.status),
            "AttemptCount": max(step.attempts, 1),
            "Metadata": types[step.type].metadata(step) if step.type in types else {},
        }
        if step.ended is not None:
            listed["EndTime"] = step.ended
        if step.failure:
            listed["FailureReason"] = step.failure
        if step.cache_hit and step.cached_from:
            listed["CacheHitResult"] = {
                "SourcePipelineExecutionArn": execution_arn(record.pipeline_arn, step.cached_from)
            }
        steps.append(listed)
    steps.sort(key=lambda listed: listed["StartTime"], reverse=request.get("SortOrder") != "Ascending")
    return page(steps, request, "PipelineExecutionSteps")


def list_parameters(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    parameters = [{"Name": name, "Value": _text(value)} for name, value in record.parameters.items()]
    return page(parameters, request, "PipelineParameters")


def describe_definition(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    return {
        "PipelineDefinition": Path(record.definition_file).read_text(encoding="utf-8"),
        "CreationTime": record.started,
    }


def stop(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    if record.status not in (ExecutionStatus.EXECUTING, ExecutionStatus.STOPPING):
        raise invalid(f"pipeline execution {record.execution_arn} is {record.status}: only an executing one stops")
    (plane.executions.execution_dir(record.execution_id) / STOP_REQUESTED).touch()
    plane.signal_runner(record.runner_pid, record.runner_started)
    return {"PipelineExecutionArn": record.execution_arn}


def retry(plane: Plane, request: dict) -> dict:
    record = _execution(plane, request["PipelineExecutionArn"])
    if record.status != ExecutionStatus.FAILED:
        raise invalid(f"pipeline execution {record.execution_arn} is {record.status}: only a failed one is retried")
    if request.get("ParallelismConfiguration"):
        record.max_parallel_steps = request["ParallelismConfiguration"].get("MaxParallelExecutionSteps")
    (plane.executions.execution_dir(record.execution_id) / STOP_REQUESTED).unlink(missing_ok=True)
    record.status, record.failure, record.ended = ExecutionStatus.EXECUTING, None, None
    plane.executions.save(record)
    _launch(plane, record, "retry")
    return {"PipelineExecutionArn": record.execution_arn}


OPERATIONS = {
    "StartPipelineExecution": start,
    "DescribePipelineExecution": describe,
    "ListPipelineExecutions": list_executions,
    "ListPipelineExecutionSteps": list_steps,
    "ListPipelineParametersForExecution": list_parameters,
    "DescribePipelineDefinitionForExecution": describe_definition,
    "StopPipelineExecution": stop,
    "RetryPipelineExecution": retry,
}


def _launch(plane: Plane, record: ExecutionRecord, mode: str) -> None:
    record.runner_pid, record.runner_started = plane.launch(mode, record.execution_id)
    plane.executions.save(record)


def _pipeline(plane: Plane, name: str) -> dict:
    try:
        return plane.client("sagemaker").describe_pipeline(PipelineName=name)
    except ClientError:
        raise not_found(f"Pipeline '{name}' does not exist.") from None


def _execution(plane: Plane, arn: str) -> ExecutionRecord:
    execution_id = arn.rsplit("/", 1)[-1]
    try:
        record = plane.executions.load(execution_id)
    except UserError:
        raise not_found(f"Pipeline execution '{arn}' does not exist.") from None
    if record.execution_arn != arn:
        raise not_found(f"Pipeline execution '{arn}' does not exist.")
    return record


def _status(plane: Plane, record: ExecutionRecord) -> str:
    stopping = (plane.executions.execution_dir(record.execution_id) / STOP_REQUESTED).exists()
    if record.status == ExecutionStatus.EXECUTING and stopping:
        return str(ExecutionStatus.STOPPING)
    return str(record.status)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
