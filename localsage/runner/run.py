"""The runner's one entry point: run a definition with its parameters on a target, in a backend.

It knows nothing of where the definition came from (the project, a file, the emulator's pipeline record),
nor of upserts, registry views or notifications: the step types reach AWS only through the target.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from localsage.adapters import processes
from localsage.errors import UserError
from localsage.runner.backends.base import Backend
from localsage.runner.cache import StepCache
from localsage.runner.callbacks import CallbackStore
from localsage.runner.definition import DefinitionError, PipelineDefinition
from localsage.runner.endpoints import EndpointStore
from localsage.runner.jobs import JobStore
from localsage.runner.orchestrator import Execution, Observer, Orchestrator, RunOptions, Unobserved, check
from localsage.runner.records import ExecutionRecord, ExecutionStore
from localsage.runner.steps.base import ExecutionStopped

# The clients a run's steps use (jobs: S3 and CloudWatch Logs; registration: SageMaker and the local events'
# SNS and SQS), created while the first step runs instead of when a later one needs them.
CLIENTS = ("s3", "logs", "sagemaker", "sns", "sqs")


def run(
    definition: PipelineDefinition,
    parameters: dict,
    target,
    backend: Backend,
    *,
    execution: Execution,
    state_dir: Path,
    use_cache: bool = True,
    observer: Observer | None = None,
    say=print,
    record: ExecutionRecord | None = None,
) -> ExecutionRecord:
    """Run every step and return the execution record: Succeeded, Failed or Stopped (after Ctrl-C or SIGTERM).

    `parameters` are typed values (`PipelineDefinition.resolve_parameters`); records, step folders and the
    step cache live under `state_dir`. `record` continues an execution recorded before (one the emulator's API
    started, or a retry of a failed one): its succeeded steps are kept.
    """
    check(definition)
    target.warm_up(CLIENTS)
    store = execution_store(state_dir)
    record = record or new_record(store, definition, parameters, execution)
    record.backend = backend.name
    record.runner_pid, record.runner_started = processes.current()
    orchestrator = Orchestrator(
        definition,
        parameters,
        execution,
        target,
        backend,
        store,
        StepCache(state_dir / "runner" / "cache", execution.pipeline_name),
        RunOptions(use_cache=use_cache, max_parallel=record.max_parallel_steps or RunOptions().max_parallel),
        observer or Unobserved(),
        say,
        jobs=job_store(state_dir),
        callbacks=callback_store(state_dir),
    )
    try:
        return orchestrator.run(record)
    except ExecutionStopped:
        return store.load(record.execution_id)


def new_record(
    store: ExecutionStore, definition: PipelineDefinition, parameters: dict, execution: Execution, **details
) -> ExecutionRecord:
    """A new execution's record, saved, with a copy of the definition it runs beside it."""
    copy = store.execution_dir(execution.execution_id) / "definition.json"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(definition.raw, indent=2))
    record = ExecutionRecord(
        execution_id=execution.execution_id,
        execution_arn=execution.execution_arn,
        pipeline_name=execution.pipeline_name,
        pipeline_arn=execution.pipeline_arn,
        role_arn=execution.role_arn,
        parameters=parameters,
        backend="",
        definition_file=str(copy),
        **details,
    )
    store.save(record)
    return record


def check_selection(definition: PipelineDefinition, pipeline_name: str, selected: list[str], source: ExecutionRecord):
    """Refuse, naming the step, a selection SageMaker would refuse: an unknown step, a source execution of another
    pipeline, or a selected step that needs a step the source execution did not complete."""
    unknown = [name for name in selected if name not in definition.steps]
    if unknown:
        steps = ", ".join(definition.steps)
        raise DefinitionError(f"selected step {unknown[0]} is not in the pipeline: steps are {steps}")
    if source.pipeline_name != pipeline_name:
        raise DefinitionError(
            f"source execution {source.execution_id} belongs to pipeline {source.pipeline_name}, not {pipeline_name}"
        )
    completed = {name for name, step in source.steps.items() if step.status.settled}
    for name in selected:
        for needed in sorted(definition.dependencies(name) - set(selected)):
            if needed not in completed:
                status = source.steps[needed].status if needed in source.steps else "absent"
                raise DefinitionError(
                    f"step {name} needs step {needed}, which source execution {source.execution_id} did not complete "
                    f"({status}): select {needed} too, or take another source execution"
                )


def selective_record(
    store: ExecutionStore,
    definition: PipelineDefinition,
    parameters: dict,
    execution: Execution,
    selected: list[str],
    source: ExecutionRecord,
    **details,
) -> ExecutionRecord:
    """A new execution that runs only `selected` steps (SelectiveExecutionConfig): every other step that
    succeeded (or was skipped) in `source` keeps that result."""
    check_selection(definition, execution.pipeline_name, selected, source)
    record = new_record(
        store,
        definition,
        parameters,
        execution,
        selected_steps=list(selected),
        source_execution_arn=source.execution_arn,
        **details,
    )
    for name, step in source.steps.items():
        if name in definition.steps and name not in selected and step.status.settled:
            record.steps[name] = replace(step, reused_from=source.execution_id, cache_hit=False)
    store.save(record)
    return record


def latest_completed(store: ExecutionStore, pipeline_name: str) -> ExecutionRecord:
    """The newest Succeeded execution of a pipeline: the default source of a selective execution."""
    for record in store.all():
        if record.pipeline_name == pipeline_name and record.status == "Succeeded":
            return record
    raise UserError(f"pipeline {pipeline_name} has no Succeeded execution to take the other steps' results from")


def job_store(state_dir: Path) -> JobStore:
    return JobStore(state_dir / "runner" / "jobs")


def endpoint_store(state_dir: Path) -> EndpointStore:
    return EndpointStore(state_dir / "runner" / "endpoints")


def callback_store(state_dir: Path) -> CallbackStore:
    return CallbackStore(state_dir / "runner" / "callbacks")


def executions_dir(state_dir: Path) -> Path:
    return state_dir / "runner" / "executions"


def execution_store(state_dir: Path) -> ExecutionStore:
    return ExecutionStore(executions_dir(state_dir))
