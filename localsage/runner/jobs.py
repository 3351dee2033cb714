"""What the runner remembers about each job a step (or a standalone Create*Job request) ran: the records the
emulator's DescribeTrainingJob, ListProcessingJobs and the like answer from.

One file per job, `<state>/runner/jobs/<kind>/<job name in lower case>.json`, written when the job starts and
when it ends.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from localsage.adapters.processes import alive
from localsage.facts.state_files import write_atomically


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


@dataclass
class JobRecord:
    """One job: `kind` is the API's noun (TrainingJob, ProcessingJob), `request` its resolved Create* arguments,
    `properties` what the job added when it finished (ModelArtifacts, FinalMetricDataList, ...)."""

    kind: str
    name: str
    arn: str
    request: dict
    status: JobStatus = JobStatus.IN_PROGRESS
    created: float = field(default_factory=time.time)
    ended: float | None = None
    failure: str | None = None
    properties: dict = field(default_factory=dict)
    execution_arn: str | None = None  # the pipeline execution that ran it, if any
    log_stream: str | None = None
    runner_pid: int | None = None
    runner_started: float | None = None
    last_modified: float = field(default_factory=time.time)

    def runner_is_gone(self) -> bool:
        running = self.status in (JobStatus.IN_PROGRESS, JobStatus.STOPPING)
        return running and self.runner_pid is not None and alive(self.runner_pid, self.runner_started) is None


class JobStore:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, kind: str, name: str) -> Path:
        """Job names are unique regardless of case in SageMaker (its ARNs spell them in lower case)."""
        return self.folder / kind / f"{name.lower()}.json"

    def save(self, record: JobRecord) -> None:
        record.last_modified = time.time()
        write_atomically(self.path(record.kind, record.name), json.dumps(asdict(record), indent=2, default=str))

    def find(self, kind: str, name: str) -> JobRecord | None:
        try:
            raw = json.loads(self.path(kind, name).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        record = JobRecord(**{**raw, "status": JobStatus(raw["status"])})
        if record.runner_is_gone():
            record.status = JobStatus.FAILED
            record.failure = f"the runner (PID {record.runner_pid}) ended before the job did"
            record.ended = record.ended or time.time()
            self.save(record)
        return record

    def all(self, kind: str) -> list[JobRecord]:
        """Every job of `kind`, newest first."""
        found = [self.find(kind, path.stem) for path in (self.folder / kind).glob("*.json")]
        return sorted((record for record in found if record), key=lambda record: record.created, reverse=True)
