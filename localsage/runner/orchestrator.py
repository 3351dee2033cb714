"""Schedules a definition's steps by their dependencies, resolves their arguments, caches, records.

Independent steps run concurrently (bounded by `RunOptions.max_parallel`); a failed step stops the scheduling
of new steps, but for those a run condition (a DependsOn trigger Failed, Stopped or Any) starts and the steps after
them; a stop (Ctrl-C) terminates the running step containers and marks the execution Stopped (a re-run
resumes from the cache). Each step's type does the work (`steps.registry`); the backend runs its container.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from localsage.adapters import api_rules, roles, s3io
from localsage.facts import permissions
from localsage.runner import retries
from localsage.runner.backends.base import Backend
from localsage.runner.cache import CacheEntry, StepCache, cache_key
from localsage.runner.callbacks import CallbackStore
from localsage.runner.definition import PipelineDefinition, Step, property_file_locator, validate
from localsage.runner.expressions import (
    EXECUTION_VARIABLES,
    Context,
    DefinitionError,
    EvaluationError,
    property_at,
    resolve,
)
from localsage.runner.jobs import JobStore
from localsage.runner.records import ExecutionRecord, ExecutionStore, StepRecord
from localsage.runner.statuses import ExecutionStatus, StepStatus
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType, job_name
from localsage.runner.steps.registry import NOT_RUN, step_types


@dataclass
class RunOptions:
    use_cache: bool = True
    max_parallel: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass
class Execution:
    """Identity of one execution, as the (emulated) SageMaker API assigned it."""

    execution_id: str
    execution_arn: str
    pipeline_name: str
    pipeline_arn: str
    role_arn: str | None = None  # the pipeline's RoleArn


class Observer(Protocol):
    """Who watches an execution (the progress view): told of every change, and of a failed step's log tail."""

    def refresh(self, record: ExecutionRecord) -> None: ...

    def step_changed(self, record: ExecutionRecord, step: StepRecord) -> None: ...

    def failure(self, step: StepRecord, tail: list[str]) -> None: ...


class Unobserved:
    """No one watches."""

    def refresh(self, record: ExecutionRecord) -> None:
        pass

    def step_changed(self, record: ExecutionRecord, step: StepRecord) -> None:
        pass

    def failure(self, step: StepRecord, tail: list[str]) -> None:
        pass


def check(definition: PipelineDefinition, types: Mapping[str, StepType] | None = None) -> None:
    """Everything that can be refused before a step runs: step types, expressions, each type's own checks."""
    types = types or step_types()
    validate(definition, {name: step_type.property_names() for name, step_type in types.items()}, NOT_RUN)
    for step in definition.steps.values():
        for checked in (step, *step.body) if step.stub is None else ():
            types[checked.type].check(checked)
            retries.policies(checked)


def check_requests(definition: PipelineDefinition, types: Mapping[str, StepType] | None = None) -> None:
    """Refuse, before anything runs, a step request SageMaker would refuse (its expressions left out).

    The commands check this up front; an execution that a SageMaker client started is refused the way
    SageMaker refuses it: its step fails with the same message when it would start.
    """
    types = types or step_types()
    refused = [
        line
        for step in definition.steps.values()
        if step.stub is None
        for checked in (step, *step.body)
        for line in types[checked.type].request_problems(checked, checked.arguments, resolved=False)
    ]
    if refused:
        raise DefinitionError(api_rules.summary(refused))


class Orchestrator:
    def __init__(
        self,
        definition: PipelineDefinition,
        parameters: dict,
        execution: Execution,
        target,
        backend: Backend,
        store: ExecutionStore,
        cache: StepCache,
        options: RunOptions,
        observer: Observer,
        say=print,
        types: Mapping[str, StepType] | None = None,
        jobs: JobStore | None = None,
        callbacks: CallbackStore | None = None,
    ):
        self.definition = definition
        self.parameters = parameters
        self.execution = execution
        self.target = target
        self.backend = backend
        self.store = store
        self.cache = cache
        self.options = options
        self.observer = observer
        self.say = say
        self.types = types or step_types()
        self.jobs = jobs
        self.callbacks = callbacks
        self.properties: dict[str, dict] = {}
        self.outcomes: dict[str, bool] = {}
        self.running: dict = {}
        self.running_lock = threading.Lock()
        self.stopping = threading.Event()
        self.started_at = datetime.now(UTC)

    def client(self, service: str):
        return self.target.client(service)

    # ---- expression context -------------------------------------------------------------------

    def context(self, symbolic_execution: bool = False, step_name: str | None = None) -> Context:
        """What expressions resolve against; `step_name` adds the step's own job names (Execution.TrainingJobName)."""
        if symbolic_execution:
            variables = {name: f"{{Execution.{name}}}" for name in EXECUTION_VARIABLES}
        else:
            variables = {
                "PipelineExecutionId": self.execution.execution_id,
                "PipelineExecutionArn": self.execution.execution_arn,
                "PipelineName": self.execution.pipeline_name,
                "PipelineArn": self.execution.pipeline_arn,
                "StartDateTime": self.started_at.isoformat(),
                "CurrentDateTime": datetime.now(UTC).isoformat(),
            }
            if step_name:
                job = job_name(self.execution.execution_id, step_name)
                variables.update(TrainingJobName=job, ProcessingJobName=job)
        context = Context(
            parameters=self.parameters,
            execution=variables,
            step_property=self.step_property,
            property_file_uri=property_file_locator(self.definition, self.step_property),
            read_json=self.read_json,
        )
        # The experiment and trial names the definition sets (expressions of parameters and execution variables).
        experiment = self.definition.raw.get("PipelineExperimentConfig") or {}
        if not isinstance(experiment, dict):
            return context
        names = {key: experiment[key] for key in ("ExperimentName", "TrialName") if key in experiment}
        return replace(context, experiment=resolve(names, context, "PipelineExperimentConfig"))

    def step_property(self, step_name: str, parts: tuple) -> object:
        if step_name not in self.properties:
            raise EvaluationError(f"step {step_name} has not produced properties (it did not run)")
        return property_at(self.properties[step_name], parts, f"step {step_name}")

    def read_json(self, uri: str) -> object:
        bucket, key = s3io.split_uri(uri)
        s3 = self.client("s3")
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return json.loads(body)
        except s3.exceptions.NoSuchKey:
            raise EvaluationError(f"the property file {uri} does not exist: did the step write it?") from None
        except ValueError as exc:
            raise EvaluationError(f"the property file {uri} is not JSON ({exc})") from None

    # ---- running ------------------------------------------------------------------------------

    def run(self, record: ExecutionRecord) -> ExecutionRecord:
        """Run every step of `record` that has not succeeded yet: all of them for a new execution; for a retry,
        the failed, stopped and unrun ones, the others keeping their properties, outcomes and attempts; for a
        selective execution, only the selected ones (the others came from its source execution)."""
        for name in self.definition.topological_order():
            previous = record.steps.get(name)
            if previous and previous.status in (StepStatus.SUCCEEDED, StepStatus.SKIPPED):
                if previous.properties is not None:
                    self.properties[name] = previous.properties
                if previous.outcome is not None:
                    self.outcomes[name] = previous.outcome
                continue
            attempts = previous.attempts if previous else 0
            record.steps[name] = StepRecord(name, self.definition.steps[name].type, attempts=attempts)
            if record.selected_steps is not None and name not in record.selected_steps:
                record.steps[name].status = StepStatus.NOT_RUN  # outside a selective execution's selection
        record.status, record.failure, record.ended = ExecutionStatus.EXECUTING, None, None
        self.store.save(record)
        futures: dict[Future, str] = {}
        failed = False
        with ThreadPoolExecutor(self.options.max_parallel, thread_name_prefix="step") as pool:
            try:
                while True:
                    # At most max_parallel steps executing: the others stay Pending, as in SageMaker. Once a step
                    # failed, only the steps meant to run on a failure (run conditions) and those after them start.
                    free = self.options.max_parallel - len(futures)
                    ready = self._ready(record, futures.values())
                    if failed:
                        ready = [name for name in ready if name in self.definition.failure_handlers]
                    for name in ready[: max(free, 0)]:
                        record.steps[name].status = StepStatus.EXECUTING
                        record.steps[name].started = time.time()
                        record.steps[name].attempts += 1
                        self._changed(record, name)
                        futures[pool.submit(self._run_step, name, record)] = name
                    if not futures:
                        break
                    done, _ = wait(list(futures), timeout=0.2, return_when=FIRST_COMPLETED)
                    self.observer.refresh(record)
                    for future in done:
                        name = futures.pop(future)
                        failed |= self._settle(record, name, future)
            except KeyboardInterrupt:
                reason = "stopped (Ctrl-C, SIGTERM or SIGHUP); run again to resume from the cache"
                self._stop(record, futures, reason, ExecutionStatus.STOPPED)
                raise ExecutionStopped() from None
            except BaseException as exc:
                # Whatever else ends the run early (an error of the runner itself, its emulator gone) stops the step
                # processes and leaves a finished record, never orphans and an execution stuck in Executing.
                self._stop(record, futures, str(exc) or type(exc).__name__, ExecutionStatus.FAILED)
                raise
        self._finish(record)
        return record

    def _ready(self, record: ExecutionRecord, in_flight) -> list[str]:
        skipped = self.definition.skipped_steps(self.outcomes)
        ready = []
        for name, step in record.steps.items():
            if step.status != StepStatus.PENDING or name in in_flight:
                continue
            if name in skipped:
                step.status = StepStatus.SKIPPED
                self._changed(record, name)
                continue
            verdict = self._run_condition(record, name)
            if verdict is None:
                continue
            if verdict:
                ready.append(name)
            else:  # its run condition can no longer hold (e.g. a Failed trigger on a step that succeeded)
                step.status = StepStatus.SKIPPED
                self._changed(record, name)
        return ready

    def _run_condition(self, record: ExecutionRecord, name: str) -> bool | None:
        """Whether step `name` may run now (True), never will by its run conditions (False), or must wait (None).

        A Completed dependency must have succeeded (after a skipped one, the step is skipped too); a step after a
        failed one waits, and ends NotRun. A Failed, Stopped or Any trigger waits for its step to end and holds on that
        outcome (Any: whatever it was); when the outcome is another, the step is skipped.
        """
        possible = True
        for need in self.definition.dependencies(name):
            if need not in record.steps:
                continue
            status = record.steps[need].status
            trigger = self.definition.trigger(name, need)
            if trigger == "Completed":
                if status == StepStatus.SKIPPED:  # what it waited for did not run: neither does it
                    possible = False
                elif not status.settled:
                    return None
            elif not status.ended:
                return None
            elif trigger != "Any" and status != {"Failed": StepStatus.FAILED, "Stopped": StepStatus.STOPPED}[trigger]:
                possible = False
        return possible

    def _run_step(self, name: str, record: ExecutionRecord) -> None:
        if self.stopping.is_set():
            raise ExecutionStopped()
        step = self.definition.steps[name]
        step_record = record.steps[name]
        if step.stub is not None:  # the user's properties stand in for the step's run
            self.properties[name] = step_record.properties = step.stub
            step_record.stubbed = True
            return
        step_type = self.types[step.type]
        arguments = self._arguments(step, step_type, self.context(step_name=name))
        step_record.arguments = arguments
        refused = step_type.request_problems(step, arguments, resolved=True)
        if refused:
            raise StepFailed(api_rules.summary(refused))
        key = None
        if self._cache_enabled(step, step_type):
            symbolic = self._arguments(step, step_type, self.context(symbolic_execution=True))
            key = cache_key(
                step.type,
                step_type.cache_key_attributes,
                symbolic,
                step_type.input_uris(arguments),
                self.client("s3"),
            )
            entry = self.cache.lookup(name, key, step.cache_config.expire_after)
            if entry and self._outputs_unchanged(entry):
                step_record.cache_hit = True
                step_record.cached_from = entry.execution_id
                self.properties[name] = entry.properties
                step_record.properties = entry.properties
                return
        self._check_role(step, step_type, arguments)
        work_dir = self.store.execution_dir(self.execution.execution_id) / "steps" / name
        result = self._with_retries(step, step_type, arguments, work_dir, record)
        self.properties[name] = result.properties
        step_record.properties = result.properties
        if result.outcome is not None:
            step_record.outcome = result.outcome
            self.outcomes[name] = result.outcome
        if key:
            outputs = {
                uri: s3io.content_digest(self.client("s3"), uri) for uri in step_type.output_uris(result.properties)
            }
            self.cache.store(
                CacheEntry(key, name, self.execution.execution_id, time.time(), result.properties, outputs)
            )

    def _check_role(self, step: Step, step_type: StepType, arguments: dict) -> None:
        """SageMaker makes the step's request as the pipeline's role: a request the role may not make fails the
        step before it runs, as it would in AWS (not retried: AccessDenied is not a fault RetryPolicies cover)."""
        if step_type.create_operation is None:
            return
        request = dict(arguments)
        if step_type.name_member:
            request.setdefault(step_type.name_member, job_name(self.execution.execution_id, step.name))
        needed = permissions.needed(step_type.create_operation, request, self.target.region, self.target.account)
        denied = roles.refused(self.target, self.execution.role_arn, needed, self.say)
        if denied:
            raise StepFailed(f"AccessDenied: {'; '.join(denied)} (SageMaker makes this request as the pipeline's role)")

    def _with_retries(
        self, step: Step, step_type: StepType, arguments: dict, work_dir: Path, record: ExecutionRecord
    ) -> StepResult:
        """Run the step; again after a failure one of its RetryPolicies names, as long as that policy allows, each
        attempt in a folder of its own (`<step>-attempt<N>`), its count in the step's record."""
        found = retries.policies(step)
        step_record = record.steps[step.name]
        started = time.time()
        while True:
            step_record.log = str(work_dir / "logs" / "output.log") if step_type.runs_container else None
            try:
                return step_type.run(arguments, self._step_context(step, work_dir))
            except ExecutionStopped:
                raise
            except Exception as exc:
                policy = retries.matching(found, exc)
                if policy is None or not policy.allows(step_record.attempts, started):
                    raise
                delay = policy.delay(step_record.attempts)
                retry = step_record.attempts + 1
                self.say(f"{step.where}{retries.failure_type(exc)} ({exc}): attempt {retry} in {delay:g} s")
                if self.stopping.wait(delay):
                    raise ExecutionStopped() from None
                step_record.attempts += 1
                self._changed(record, step.name)
                work_dir = work_dir.with_name(f"{step.name}-attempt{step_record.attempts}")

    def _outputs_unchanged(self, entry: CacheEntry) -> bool:
        """A cached result is only reusable while its outputs still hold what that run wrote.

        Outputs often live at fixed prefixes: a later run with other code or parameters overwrites them, and an
        emulator reset deletes them; either way the step runs again.
        """
        return bool(entry.outputs) and all(
            s3io.content_digest(self.client("s3"), uri) == digest for uri, digest in entry.outputs.items()
        )

    def _arguments(self, step: Step, step_type: StepType, context: Context) -> dict:
        return resolve(step_type.arguments_of(step), context, f"{step.where}Arguments")

    def _cache_enabled(self, step: Step, step_type: StepType) -> bool:
        return self.options.use_cache and step_type.cacheable and bool(step.cache_config and step.cache_config.enabled)

    def _step_context(self, step: Step, work_dir: Path) -> StepContext:
        return StepContext(
            step=step,
            execution_id=self.execution.execution_id,
            pipeline_name=self.execution.pipeline_name,
            target=self.target,
            work_dir=work_dir,
            backend=self.backend,
            say=self.say,
            running=self.running,
            lock=self.running_lock,
            stopping=self.stopping,
            jobs=self.jobs,
            callbacks=self.callbacks,
            execution_arn=self.execution.execution_arn,
            types=self.types,
            expressions=self.context(step_name=step.name),
        )

    def _settle(self, record: ExecutionRecord, name: str, future: Future) -> bool:
        """Record a finished step; True when it failed the execution."""
        step = record.steps[name]
        step.ended = time.time()
        error = future.exception()
        if error is None:
            step.status = StepStatus.SUCCEEDED
        elif isinstance(error, ExecutionStopped):
            step.status = StepStatus.STOPPED
        else:
            step.status = StepStatus.FAILED
            message = str(error)
            step.failure = message if message.startswith("step ") else f"step {name}: {message}"
            record.failure = record.failure or step.failure
            if isinstance(error, StepFailed) and error.tail:
                self.observer.failure(step, error.tail)
        self._changed(record, name)
        return step.status == StepStatus.FAILED

    def _stop(self, record: ExecutionRecord, futures: dict[Future, str], reason: str, status: ExecutionStatus) -> None:
        self.stopping.set()
        with self.running_lock:
            for container in list(self.running.values()):
                container.terminate()
        wait(list(futures))
        for future, name in futures.items():
            self._settle(record, name, future)
            if record.steps[name].status != StepStatus.SUCCEEDED:
                record.steps[name].status = StepStatus.STOPPED
        for step in record.steps.values():
            if step.status == StepStatus.PENDING:
                step.status = StepStatus.NOT_RUN
            elif step.status == StepStatus.EXECUTING:
                # Marked Executing, but the stop came before its future was kept: its thread sees the stop flag
                # before starting anything, and the pool's exit waits for it.
                step.status, step.ended = StepStatus.STOPPED, time.time()
        record.status = status
        record.failure = reason
        record.ended = time.time()
        self.store.save(record)

    def _finish(self, record: ExecutionRecord) -> None:
        locate = property_file_locator(self.definition, self.step_property)
        for name, step in self.definition.steps.items():
            if record.steps[name].status != StepStatus.SUCCEEDED:
                continue
            for file_name in step.property_files:
                try:
                    record.property_files[f"{name}.{file_name}"] = self.read_json(locate(name, file_name))
                except EvaluationError as exc:
                    record.property_files[f"{name}.{file_name}"] = {"error": str(exc)}
        for step in record.steps.values():
            if step.status == StepStatus.PENDING:
                step.status = StepStatus.NOT_RUN
        failed = any(step.status == StepStatus.FAILED for step in record.steps.values())
        handled = any(
            record.steps[name].status == StepStatus.SUCCEEDED
            and any(trigger in ("Failed", "Any") for trigger in self.definition.steps[name].depends_on.values())
            for name in self.definition.failure_handlers
            if name in record.steps
        )
        if not failed:
            record.status = ExecutionStatus.SUCCEEDED
        elif handled:  # a step failed and the steps meant to run on it ran: SageMaker's CompletedWithFailures
            record.status = ExecutionStatus.COMPLETED_WITH_FAILURES
        else:
            record.status = ExecutionStatus.FAILED
        record.ended = time.time()
        self.store.save(record)
        self.observer.refresh(record)

    def _changed(self, record: ExecutionRecord, name: str) -> None:
        self.store.save(record)
        self.observer.step_changed(record, record.steps[name])
