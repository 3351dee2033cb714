"""The runner's one entry point: run a definition with its parameters on a target, in a backend.

It knows nothing of where the definition came from (the project, a file, the emulator's pipeline record),
nor of upserts, registry views or notifications: the step types reach AWS only through the target.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from localsage.runner.backends.base import Backend
from localsage.runner.cache import StepCache
from localsage.runner.definition import PipelineDefinition
from localsage.runner.orchestrator import Execution, Observer, Orchestrator, RunOptions, Unobserved, check
from localsage.runner.records import ExecutionRecord, ExecutionStore
from localsage.runner.steps.base import ExecutionStopped


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
) -> ExecutionRecord:
    """Run every step and return the execution record: Succeeded, Failed or Stopped (after Ctrl-C).

    `parameters` are typed values (`PipelineDefinition.resolve_parameters`); records, step folders and the
    step cache live under `state_dir`.
    """
    check(definition)
    store = ExecutionStore(executions_dir(state_dir))
    copy = store.execution_dir(execution.execution_id) / "definition.json"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(definition.raw, indent=2))
    record = ExecutionRecord(
        execution_id=execution.execution_id,
        execution_arn=execution.execution_arn,
        pipeline_name=execution.pipeline_name,
        pipeline_arn=execution.pipeline_arn,
        parameters=parameters,
        backend=backend.name,
        definition_file=str(copy),
        runner_pid=os.getpid(),
        runner_started=psutil.Process().create_time(),
    )
    orchestrator = Orchestrator(
        definition,
        parameters,
        execution,
        target,
        backend,
        store,
        StepCache(state_dir / "runner" / "cache", execution.pipeline_name),
        RunOptions(use_cache=use_cache),
        observer or Unobserved(),
        say,
    )
    try:
        return orchestrator.run(record)
    except ExecutionStopped:
        return store.load(record.execution_id)


def executions_dir(state_dir: Path) -> Path:
    return state_dir / "runner" / "executions"


def execution_store(state_dir: Path) -> ExecutionStore:
    return ExecutionStore(executions_dir(state_dir))
