"""What the runner remembers about each execution: per-step status, timings, attempts, cache hits, arguments,
properties, logs.

Records live in `<state>/runner/executions/<execution id>/execution.json`, beside each step's folder. They are
the truth about local executions: the emulator's SageMaker API (localsage.controlplane) answers
DescribePipelineExecution, ListPipelineExecutionSteps and the rest from these files, whoever ran the execution
(`./dev local-run` in its own process, or the emulator for a StartPipelineExecution from any client).
"""

from __future__ import annotations

import json
import secrets
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localsage.adapters.processes import alive
from localsage.errors import UserError
from localsage.facts.state_files import write_atomically
from localsage.runner.statuses import ExecutionStatus, StepStatus


def new_execution_id() -> str:
    """A pipeline execution id as SageMaker makes them: 12 lowercase letters and digits."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


def execution_arn(pipeline_arn: str, execution_id: str) -> str:
    return f"{pipeline_arn}/execution/{execution_id}"


@dataclass
class StepRecord:
    name: str
    type: str
    status: StepStatus = StepStatus.PENDING
    started: float | None = None
    ended: float | None = None
    cache_hit: bool = False
    cached_from: str | None = None
    outcome: bool | None = None
    failure: str | None = None
    log: str | None = None
    arguments: dict | None = None
    properties: dict | None = None
    attempts: int = 0
    reused_from: str | None = None  # a selective execution took this step's result from that execution
    stubbed: bool = False  # not run: its properties are the ones the user gave (`--stub`)

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


@dataclass
class ExecutionRecord:
    execution_id: str
    execution_arn: str
    pipeline_name: str
    pipeline_arn: str
    parameters: dict
    backend: str
    definition_file: str
    status: ExecutionStatus = ExecutionStatus.EXECUTING
    started: float = field(default_factory=time.time)
    ended: float | None = None
    failure: str | None = None
    steps: dict[str, StepRecord] = field(default_factory=dict)
    property_files: dict[str, object] = field(default_factory=dict)  # "<step>.<file>" -> its JSON
    runner_pid: int | None = None  # the process running the execution, with its start time (PIDs are reused)
    runner_started: float | None = None
    display_name: str | None = None
    description: str | None = None
    max_parallel_steps: int | None = None  # ParallelismConfiguration.MaxParallelExecutionSteps
    client_token: str | None = None  # StartPipelineExecution's idempotency token
    # SelectiveExecutionConfig: only these steps run; the others' results come from the source execution.
    selected_steps: list[str] | None = None
    source_execution_arn: str | None = None
    role_arn: str | None = None  # the pipeline's role: SageMaker makes each step's request as it
    last_modified: float = field(default_factory=time.time)

    def runner_is_gone(self) -> bool:
        """An execution still marked Executing whose runner process no longer exists (killed, machine restarted)."""
        running = self.status in (ExecutionStatus.EXECUTING, ExecutionStatus.STOPPING)
        return running and self.runner_pid is not None and alive(self.runner_pid, self.runner_started) is None

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started

    def summary(self) -> dict:
        """The machine-readable summary `local-run --json` prints."""
        registered = next(
            (
                s.properties
                for s in self.steps.values()
                if s.status == StepStatus.SUCCEEDED and s.properties and "ModelPackageArn" in s.properties
            ),
            None,
        )
        return {
            "execution_id": self.execution_id,
            "execution_arn": self.execution_arn,
            "pipeline_name": self.pipeline_name,
            "status": self.status,
            "failure": self.failure,
            "duration_s": round(self.duration, 3),
            "parameters": self.parameters,
            "property_files": self.property_files,
            "steps": {
                s.name: {
                    "type": s.type,
                    "status": s.status,
                    "duration_s": None if s.duration is None else round(s.duration, 3),
                    "cache_hit": s.cache_hit,
                    **({"reused_from": s.reused_from} if s.reused_from else {}),
                    **({"stubbed": True} if s.stubbed else {}),
                    **({"outcome": s.outcome} if s.outcome is not None else {}),
                    **({"failure": s.failure} if s.failure else {}),
                    **({"log": s.log} if s.log else {}),
                }
                for s in self.steps.values()
            },
            "model_package_arn": registered["ModelPackageArn"] if registered else None,
            "model_package_version": registered.get("ModelPackageVersion") if registered else None,
            "model_approval_status": registered.get("ModelApprovalStatus") if registered else None,
        }


class ExecutionStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def execution_dir(self, execution_id: str) -> Path:
        return self.folder / execution_id

    def save(self, record: ExecutionRecord) -> None:
        record.last_modified = time.time()
        path = self.execution_dir(record.execution_id) / "execution.json"
        write_atomically(path, json.dumps(asdict(record), indent=2, default=str))

    def load(self, execution_id: str) -> ExecutionRecord:
        path = self.execution_dir(execution_id) / "execution.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            known = ", ".join(r.execution_id for r in self.all()[:5]) or "none yet"
            raise UserError(f"no local execution {execution_id!r}: recent ones are {known}") from None
        raw["steps"] = {
            name: StepRecord(**{**step, "status": StepStatus(step["status"])}) for name, step in raw["steps"].items()
        }
        record = ExecutionRecord(**{**raw, "status": ExecutionStatus(raw["status"])})
        if record.runner_is_gone():
            self._ended_without_runner(record)
        return record

    def _ended_without_runner(self, record: ExecutionRecord) -> None:
        """Never shown as Executing forever: the record is finished as Failed, saying why."""
        record.status = ExecutionStatus.FAILED
        record.failure = (
            f"the runner (PID {record.runner_pid}) ended before the execution did (killed, or the machine restarted)"
        )
        record.ended = record.ended or time.time()
        for step in record.steps.values():
            if step.status == StepStatus.EXECUTING:
                step.status = StepStatus.FAILED
                step.failure = record.failure
            elif step.status == StepStatus.PENDING:
                step.status = StepStatus.NOT_RUN
        self.save(record)

    def all(self) -> list[ExecutionRecord]:
        """Every recorded execution, newest first."""
        found = []
        for path in self.folder.glob("*/execution.json"):
            try:
                found.append(self.load(path.parent.name))
            except (ValueError, TypeError):
                continue
        return sorted(found, key=lambda record: record.started, reverse=True)
