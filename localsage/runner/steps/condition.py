"""Condition steps: evaluate the conditions (all must hold); the orchestrator runs the branch the outcome selects."""

from __future__ import annotations

from localsage.runner.definition import CONDITION_TYPE, Step
from localsage.runner.expressions import Context, EvaluationError, evaluate_conditions
from localsage.runner.records import StepRecord
from localsage.runner.steps.base import StepContext, StepResult, StepType


class Condition(StepType):
    type_name = CONDITION_TYPE
    locally = "evaluated by the runner (JsonGet reads property files from the emulator's S3)"
    extra_properties = frozenset({"Outcome"})

    def metadata(self, step: StepRecord) -> dict:
        return {} if step.outcome is None else {"Condition": {"Outcome": str(step.outcome)}}

    def arguments_of(self, step: Step) -> dict:
        return {"Conditions": step.conditions}

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        # The orchestrator resolved every expression first: the conditions hold plain values here.
        plain_values = Context(parameters={}, execution={}, step_property=_no_expressions_left)
        outcome = evaluate_conditions(arguments["Conditions"], plain_values, f"{context.step.where}Conditions")
        return StepResult({"Outcome": outcome}, outcome=outcome)


def _no_expressions_left(step_name: str, parts: tuple) -> object:
    raise EvaluationError(f"step {step_name}: a condition still held an expression after resolution")
