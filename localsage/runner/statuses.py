"""The statuses of executions and steps, spelled as SageMaker's ListPipelineExecutionSteps and
DescribePipelineExecution spell them, plus the runner's own states for steps that never started."""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    PENDING = "Pending"  # not started yet (the runner's own)
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    SKIPPED = "Skipped"  # on a condition branch that was not taken (the runner's own)
    NOT_RUN = "NotRun"  # the execution ended before it could start (the runner's own)

    @property
    def settled(self) -> bool:
        """A later step may start after this one (succeeded, or skipped with its branch)."""
        return self in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)

    @property
    def ended(self) -> bool:
        """The step will not change any more (what a run condition waits for)."""
        return self in (StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.STOPPED)


class ExecutionStatus(StrEnum):
    EXECUTING = "Executing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    COMPLETED_WITH_FAILURES = "CompletedWithFailures"  # a step failed, and steps meant to run on that failure ran
    STOPPING = "Stopping"
    STOPPED = "Stopped"
