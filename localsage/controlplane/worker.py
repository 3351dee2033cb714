"""A worker the emulator starts for one StartPipelineExecution, RetryPipelineExecution, Create*Job or CreateEndpoint
request: `python -m localsage.controlplane.worker execution|retry <execution id>`, `job <kind> <job name>` or
`endpoint <endpoint name>` (which serves the endpoint's model until DeleteEndpoint or the emulator stops it).

It runs what was recorded with the runner, in the process backend, against the emulator that started it, and
keeps the records up to date. SIGTERM (StopPipelineExecution, Stop*Job) stops it the way Ctrl-C stops a local
run; when the emulator itself goes away, the run stops and is recorded as Failed, saying so.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import threading
import time

import psutil
from botocore.exceptions import ClientError

from localsage.adapters import targets
from localsage.errors import UserError
from localsage.facts.config import local_dir
from localsage.runner import endpoints
from localsage.runner.backends.selection import choose
from localsage.runner.definition import Step, load
from localsage.runner.jobs import JobStatus
from localsage.runner.orchestrator import Execution
from localsage.runner.run import endpoint_store, execution_store, job_store, run
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed
from localsage.runner.steps.registry import job_step_types

PARENT_CHECK_S = 0.5
say = functools.partial(print, flush=True)  # into the emulator's workers.log


class EmulatorGone(Exception):
    """The emulator that started this worker stopped (it was stopped, or killed)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localsage.controlplane.worker")
    parser.add_argument("mode", choices=("execution", "retry", "job", "endpoint"))
    parser.add_argument("names", nargs="+")
    arguments = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _watch_the_emulator(os.getppid())
    if arguments.mode == "endpoint":
        # The emulator going away stops the server like DeleteEndpoint would, but the endpoint is not failed: the
        # emulator's next start hosts it again.
        signal.signal(signal.SIGUSR1, signal.default_int_handler)
    target = targets.local(say=say)
    state_dir = local_dir(target.root)
    emulator = psutil.Process(os.getppid())
    backend = choose(None, say=say, state_dir=state_dir, lifetime=(emulator.pid, emulator.create_time()))
    try:
        if arguments.mode == "job":
            kind, name = arguments.names
            run_job(target, state_dir, backend, kind, name)
        elif arguments.mode == "endpoint":
            endpoints.host(target, endpoint_store(state_dir), backend, arguments.names[0], say)
        else:
            run_execution(target, state_dir, backend, arguments.names[0])
    except (ExecutionStopped, KeyboardInterrupt, EmulatorGone, UserError, StepFailed, ClientError) as exc:
        if arguments.mode == "endpoint" and not isinstance(exc, KeyboardInterrupt):
            say(f"endpoint {arguments.names[0]}: {exc}")  # its record says Failed, with the reason
            return 1
        if isinstance(exc, StepFailed | ClientError):
            raise
        return 1
    return 0


def run_execution(target, state_dir, backend, execution_id: str) -> None:
    record = execution_store(state_dir).load(execution_id)
    definition = load(record.definition_file)
    execution = Execution(
        record.execution_id, record.execution_arn, record.pipeline_name, record.pipeline_arn, record.role_arn
    )
    run(
        definition,
        record.parameters,
        target,
        backend,
        execution=execution,
        state_dir=state_dir,
        say=say,
        record=record,
    )


def run_job(target, state_dir, backend, kind: str, name: str) -> None:
    """A standalone job: its request is the arguments of one step of its type, run as a pipeline would run it."""
    jobs = job_store(state_dir)
    job = jobs.find(kind, name)
    step_type = job_step_types()[kind]
    step = Step(name=name, type=step_type.type_name, arguments=job.request, path=f"{kind} {name}")
    try:
        step_type.check(step)
    except UserError as exc:
        job.status, job.failure, job.ended = JobStatus.FAILED, str(exc), time.time()
        jobs.save(job)
        raise
    context = StepContext(
        step=step,
        execution_id=name,
        pipeline_name="",
        target=target,
        work_dir=jobs.folder / kind / name,
        backend=backend,
        say=say,
        jobs=jobs,
        job=name,
    )

    def stop(number, frame) -> None:  # Stop<Kind>: the container is stopped and the job recorded Stopped
        context.stopping.set()
        with context.lock:
            for container in list(context.running.values()):
                container.terminate()

    signal.signal(signal.SIGTERM, stop)
    step_type.run(job.request, context)


def _watch_the_emulator(parent: int) -> None:
    """The emulator is this worker's parent: when it goes, the worker is re-parented, and the run must stop."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        signal.raise_signal(signal.SIGUSR1)

    def gone(number, frame) -> None:
        raise EmulatorGone(f"the emulator (PID {parent}) stopped while this ran")

    signal.signal(signal.SIGUSR1, gone)
    threading.Thread(target=watch, daemon=True, name="emulator-watch").start()


if __name__ == "__main__":
    sys.exit(main())
