"""The step type interface: one small class per SageMaker step type holds every fact about that type.

A step type says what it is called, whether and by which attributes it is cached, whether it runs a
container, which arguments it refuses before anything runs, which S3 URIs it reads and writes, which
properties later steps may read from it (the members of its Describe* response), and how it runs. It gets the
step's resolved arguments (every expression replaced by its value) and returns the step's properties.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import ClassVar

import requests

from localsage.adapters import api_rules, aws, loopback, roles
from localsage.errors import UserError
from localsage.facts import permissions
from localsage.runner.backends.base import Backend, ContainerSpec, RunningContainer
from localsage.runner.callbacks import CallbackStore
from localsage.runner.definition import Step
from localsage.runner.expressions import Context, is_expression
from localsage.runner.jobs import JobStore
from localsage.runner.records import StepRecord

STDERR_TAIL_LINES = 20
JOB_NAME_LIMIT = 63
# What SageMaker does with a job's role on its behalf: move its inputs and outputs (the emulator checks S3).
ROLE_SERVICES = frozenset({"s3"})
# Execution ids are 12 characters: a generated job name is never longer than with this one.
LONGEST_EXECUTION_ID = "x" * 12
# SageMaker gives an inference container this long to answer its first /ping.
SERVER_READY_TIMEOUT_S = 300


def job_name(execution_id: str, step_name: str) -> str:
    """`pipelines-<execution id>-<step>`, within SageMaker's 63-character job name limit; a longer one keeps its
    start and ends with a digest of the whole, so steps whose names differ only at the end (ForEach iterations,
    `<step>-<index>`) never share a job name."""
    cleaned = "".join(char if char.isalnum() else "-" for char in step_name)
    name = f"pipelines-{execution_id}-{cleaned}"
    if len(name) <= JOB_NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: JOB_NAME_LIMIT - len(digest) - 1].rstrip('-')}-{digest}"


class StepFailed(Exception):
    """The step ran and failed; `message` says why, `tail` holds the last lines of its log."""

    def __init__(self, message: str, tail: list[str] | None = None):
        super().__init__(message)
        self.tail = tail or []


class ExecutionStopped(Exception):
    """The execution was stopped (Ctrl-C, or a stop request) while this step waited or ran."""


@dataclass
class StepResult:
    properties: dict
    outcome: bool | None = None  # a Condition step's result


@dataclass
class StepContext:
    """What a step type may use: the execution's identity, the step's folder, the target and the backend."""

    step: Step
    execution_id: str
    pipeline_name: str
    target: object  # localsage.adapters.targets.Target
    work_dir: Path  # this step's folder: opt_ml/ and logs/ live here
    backend: Backend
    say: Callable[[str], None] = print
    running: dict[str, RunningContainer] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    jobs: JobStore | None = None  # where the step's job is recorded (the emulator's Describe*Job answers from it)
    callbacks: CallbackStore | None = None  # where a Callback step's token waits for its answer
    execution_arn: str | None = None
    job: str | None = None  # the job's own name, for a standalone Create*Job request
    role: roles.RoleSession | None = None  # a job's role, once assumed: its transfers and processes act as it
    found: dict = field(default_factory=dict)  # what a step type looked up once and uses in several phases
    # What a step that runs other steps (ForEach) needs: the step types, and the expressions' values of this run.
    types: Mapping[str, StepType] | None = None
    expressions: Context | None = None

    def client(self, service: str):
        """A client of the target; for S3, the job's transfers sign as its role (when it has one)."""
        if self.role is not None and service in ROLE_SERVICES:
            return self.role.client(service)
        return self.target.client(service)

    @property
    def opt_ml(self) -> Path:
        return self.work_dir / "opt_ml"

    @property
    def logs(self) -> Path:
        return self.work_dir / "logs"

    def job_name(self) -> str:
        return self.job or job_name(self.execution_id, self.step.name)

    def arn(self, resource: str, name: str) -> str:
        return permissions.sagemaker_arn(self.target.region, self.target.account, resource, name)

    def container_path(self, path: str, field_name: str) -> Path:
        """The host folder for a container path, which must lie under /opt/ml (as SageMaker requires)."""
        if not (path == "/opt/ml" or path.startswith("/opt/ml/")):
            raise UserError(f"{self.step.where}{field_name} {path!r} must be under /opt/ml")
        return self.opt_ml / path.removeprefix("/opt/ml").lstrip("/")

    def run_container(self, spec: ContainerSpec) -> None:
        """Run the job's container to the end; StepFailed with the last lines of its log when it exits non-zero."""
        container = self._start(spec)
        try:
            code = container.wait()
        finally:
            with self.lock:
                self.running.pop(self.job_name(), None)
        if self.stopping.is_set():
            raise ExecutionStopped()
        if code != 0:
            raise self._exited(spec, f"the container exited with code {code}")

    @contextmanager
    def serving(self, spec: ContainerSpec, port: int) -> Iterator[str]:
        """Start an inference container (`serve`) listening on `port`, wait until it answers /ping, give its URL;
        stop it when done. StepFailed with its log's tail when it exits or never answers."""
        container = self._start(spec)
        ended: list[int] = []
        watcher = threading.Thread(target=lambda: ended.append(container.wait()), daemon=True)
        watcher.start()
        url = f"http://{loopback.HOST}:{port}"
        try:
            deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
            while not self.answers(url):
                if self.stopping.is_set():
                    raise ExecutionStopped()
                if ended:
                    raise self._exited(spec, f"the model server exited with code {ended[0]} before it answered /ping")
                if time.monotonic() > deadline:
                    raise self._exited(spec, f"the model server did not answer /ping within {SERVER_READY_TIMEOUT_S} s")
                time.sleep(0.02)
            yield url
        except requests.RequestException as exc:
            if self.stopping.is_set():
                raise ExecutionStopped() from None
            raise self._exited(spec, f"the model server stopped answering ({exc})") from None
        finally:
            container.terminate()
            watcher.join(timeout=30)
            with self.lock:
                self.running.pop(self.job_name(), None)

    @staticmethod
    def answers(url: str) -> bool:
        """Whether the inference server at `url` answers its health check."""
        try:
            return loopback.http.get(f"{url}/ping", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _start(self, spec: ContainerSpec) -> RunningContainer:
        if self.stopping.is_set():
            raise ExecutionStopped()
        if self.role is not None:
            spec = replace(spec, credentials=self.role.environment())
        container = self.backend.start(spec)
        with self.lock:
            self.running[self.job_name()] = container
        if self.stopping.is_set():  # the stop came while it started: the stop pass may have missed it
            container.terminate()
        return container

    def _exited(self, spec: ContainerSpec, what: str) -> StepFailed:
        lines = spec.log.read_text(encoding="utf-8", errors="replace").splitlines() if spec.log.is_file() else []
        failure = self.opt_ml / "output" / "failure"
        reason = failure.read_text(encoding="utf-8").strip() if failure.is_file() else ""
        return StepFailed(
            f"{self.step.where}{what}" + (f": {reason}" if reason else ""), tail=lines[-STDERR_TAIL_LINES:]
        )


class StepType:
    """One SageMaker step type. Subclasses set the class attributes and implement `run`."""

    type_name: ClassVar[str]
    locally: ClassVar[str]  # how it runs on this machine, in a few words (`./dev steps`)
    support: ClassVar[str] = "runs"  # or "recorded only": what it creates is kept as records, nothing is served
    # CacheConfig applies (SageMaker caches only job steps) and which arguments make up the cache key
    # ("Default cache key attributes by pipeline step type"); empty means every argument.
    cacheable: ClassVar[bool] = False
    cache_key_attributes: ClassVar[tuple[str, ...]] = ()
    runs_container: ClassVar[bool] = False
    # The SageMaker operation whose response later steps read as this step's properties.
    describe_operation: ClassVar[str | None] = None
    # The SageMaker request the step makes, and its name member (SageMaker Pipelines fills the name in).
    create_operation: ClassVar[str | None] = None
    name_member: ClassVar[str | None] = None
    extra_properties: ClassVar[frozenset[str]] = frozenset()
    # The resource the step makes, as ListPipelineExecutionSteps' Metadata names it: (its key, the ARN property).
    made: ClassVar[tuple[str, str] | None] = None

    def check(self, step: Step) -> None:
        """Refuse, before anything runs, arguments this step type cannot honour (one-line UserError)."""

    def request_problems(self, step: Step, arguments: dict, resolved: bool) -> list[str]:
        """What SageMaker would refuse in the request this step makes (`resolved`: its expressions are values;
        else they are left out), one line each naming the JSON path and the rule."""
        if self.create_operation is None:
            return []
        request = dict(arguments)
        if self.name_member and self.name_member not in request:
            request[self.name_member] = job_name(LONGEST_EXECUTION_ID, step.name)
        unknown = (lambda value: False) if resolved else is_expression
        found = api_rules.violations("sagemaker", self.create_operation, request, unknown)
        return [f"{step.where}{step.path}.Arguments.{violation}" for violation in found]

    def arguments_of(self, step: Step) -> dict:
        """The part of the step that is resolved and handed to `run`."""
        return step.arguments

    def input_uris(self, arguments: dict) -> list[str]:
        """The S3 URIs the step reads (their content goes into the cache key)."""
        return []

    def output_uris(self, properties: dict) -> list[str]:
        """The S3 URIs a cached result needs to still hold what the step wrote."""
        return []

    def written_uris(self, arguments: dict) -> list[str]:
        """The S3 URIs the step will write under, as its arguments name them (a later step may read there)."""
        return []

    def needed_groups(self, arguments: dict) -> list[str]:
        """The model package groups the step writes into: SageMaker refuses a version for a missing group."""
        return []

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        raise NotImplementedError

    def metadata(self, step: StepRecord) -> dict:
        """What ListPipelineExecutionSteps shows as the step's Metadata (the job, the outcome, the ARN made)."""
        if self.made is None:
            return {}
        key, arn_property = self.made
        arn = (step.properties or {}).get(arn_property)
        return {key: {"Arn": arn}} if arn else {}

    @classmethod
    def property_names(cls) -> frozenset[str]:
        """The top-level properties later steps may read."""
        if cls.describe_operation is None:
            return cls.extra_properties
        return _response_members(cls.describe_operation) | cls.extra_properties


@cache
def _response_members(operation: str) -> frozenset[str]:
    """The members of a SageMaker operation's response, from botocore's service model."""
    model = aws.service_model("sagemaker")
    return frozenset(model.operation_model(operation).output_shape.members)


def request_for(client, operation: str, arguments: dict) -> dict:
    """The step's arguments that the API operation accepts (definitions also carry SDK-only keys)."""
    accepted = client.meta.service_model.operation_model(operation).input_shape.members
    return {key: value for key, value in arguments.items() if key in accepted}
