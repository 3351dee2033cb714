"""Fail steps: end the execution as Failed with the step's (resolved) ErrorMessage."""

from __future__ import annotations

from localsage.runner.records import StepRecord
from localsage.runner.steps.base import StepContext, StepFailed, StepResult, StepType


class Fail(StepType):
    type_name = "Fail"
    locally = "ends the execution Failed with its ErrorMessage"

    def metadata(self, step: StepRecord) -> dict:
        return {"Fail": {"ErrorMessage": str((step.arguments or {}).get("ErrorMessage", ""))}}

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        message = str(arguments.get("ErrorMessage") or "the pipeline reached a Fail step")
        raise StepFailed(f"{context.step.where}{message}")
