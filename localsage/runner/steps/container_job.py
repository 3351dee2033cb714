"""The template every job step follows (Processing, Training): SageMaker's container contract on this machine.

Download the inputs from S3 into the job's `/opt/ml` folder, write the config files the job's container
reads, run the container through the backend, upload its outputs to the same S3 URIs a cloud run uses,
and return the job's Describe* shape as the step's properties. Each job type fills in the five steps.

Around them, as SageMaker does: the job is recorded (InProgress, then Completed, Failed or Stopped) for the
emulator's Describe*Job and List*Jobs, and its output becomes a CloudWatch Logs stream named as SageMaker names
it (`/aws/sagemaker/<Kind>s`, `<job name>/algo-1-<start time>`), for `aws logs` and the SDK's log streaming.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from localsage.adapters import processes, roles, s3io
from localsage.runner.backends.base import ContainerSpec
from localsage.runner.jobs import JobRecord, JobStatus
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepResult, StepType

# CloudWatch Logs limits on one PutLogEvents call.
LOG_BATCH_EVENTS = 10_000
LOG_BATCH_BYTES = 1_000_000


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


class ContainerJob(StepType):
    """A step that runs one job container. Subclasses say where inputs go, what the container is, and what
    comes out."""

    cacheable: ClassVar[bool] = True
    runs_container: ClassVar[bool] = True
    job_kind: ClassVar[str]  # TrainingJob, ProcessingJob: the API's noun
    arn_resource: ClassVar[str]  # training-job, processing-job

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "job_kind" in cls.__dict__:
            cls.made = (cls.job_kind, f"{cls.job_kind}Arn")

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        job = self._begin(arguments, context)
        started = time.time()
        try:
            context.role = roles.assume(context.target, arguments.get("RoleArn"), context.say)
            s3 = context.client("s3")
            inputs = list(self.inputs(arguments, context))
            # The channels arrive together, as a job's inputs do (each one's files in parallel too).
            with ThreadPoolExecutor(max(len(inputs), 1)) as pool:
                copies = [
                    pool.submit(s3io.download, s3, uri, destination, f"{context.step.where}{what}")
                    for uri, destination, what in inputs
                ]
                for copy in copies:
                    copy.result()
            self.prepare(arguments, context)
            self.execute(arguments, context)
            self.upload_outputs(arguments, context)
            properties = self.properties(arguments, context)
        except ExecutionStopped:
            self._end(job, context, started, JobStatus.STOPPED, failure="stopped")
            raise
        except Exception as exc:
            self._end(job, context, started, JobStatus.FAILED, failure=str(exc))
            raise
        self._end(job, context, started, JobStatus.COMPLETED, properties=properties)
        return StepResult(properties)

    def _begin(self, arguments: dict, context: StepContext) -> JobRecord | None:
        if context.jobs is None:
            return None
        name = context.job_name()
        job = JobRecord(
            kind=self.job_kind,
            name=name,
            arn=context.arn(self.arn_resource, name),
            request=arguments,
            execution_arn=context.execution_arn,
        )
        job.runner_pid, job.runner_started = processes.current()
        context.jobs.save(job)
        return job

    def _end(self, job: JobRecord | None, context: StepContext, started: float, status: JobStatus, **outcome) -> None:
        if job is None:
            return
        job.status, job.ended = status, time.time()
        job.failure = outcome.get("failure")
        job.properties = outcome.get("properties") or {}
        try:
            job.log_stream = publish_log(context, self.job_kind, job.name, started)
        except (ClientError, BotoCoreError) as exc:
            context.say(f"{context.step.where}its output could not be published to CloudWatch Logs ({exc})")
        context.jobs.save(job)

    def inputs(self, arguments: dict, context: StepContext) -> Iterator[tuple[str, Path, str]]:
        """(S3 URI, host folder, what it is) for every input to download."""
        raise NotImplementedError

    def prepare(self, arguments: dict, context: StepContext) -> None:
        """Write the config files and create the folders the container expects."""
        raise NotImplementedError

    def container(self, arguments: dict, context: StepContext) -> ContainerSpec:
        raise NotImplementedError

    def execute(self, arguments: dict, context: StepContext) -> None:
        """Run the job's container: to its end, for a job whose container does the work."""
        context.run_container(self.container(arguments, context))

    def upload_outputs(self, arguments: dict, context: StepContext) -> None:
        raise NotImplementedError

    def properties(self, arguments: dict, context: StepContext) -> dict:
        raise NotImplementedError


def publish_log(context: StepContext, kind: str, job_name: str, started: float) -> str | None:
    """The job's output as a CloudWatch Logs stream named as SageMaker names it; the stream's name, or None when
    the job wrote nothing (it failed before its container ran)."""
    log = context.logs / "output.log"
    if not log.is_file():
        return None
    # CloudWatch refuses empty messages: blank lines are left out.
    lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        return None
    logs = context.client("logs")
    group, stream = f"/aws/sagemaker/{kind}s", f"{job_name}/algo-1-{int(started)}"
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    stamp = int(log.stat().st_mtime * 1000)
    batch: list[dict] = []
    size = 0
    for line in lines:
        event = {"timestamp": stamp, "message": line}
        if len(batch) == LOG_BATCH_EVENTS or size + len(line) + 26 > LOG_BATCH_BYTES:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            batch, size = [], 0
        batch.append(event)
        size += len(line) + 26  # CloudWatch counts 26 bytes per event
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
    return stream
