"""Condition and Fail steps: no container, just the definition's own logic."""

from __future__ import annotations

from localsage.runner.expressions import Context, EvaluationError, evaluate_conditions
from localsage.runner.steps import ApiStepHandler, StepContext, StepFailed, StepResult


class ConditionHandler(ApiStepHandler):
    """Evaluates the step's conditions (all must hold); the orchestrator runs the branch the outcome selects.

    The orchestrator resolves every expression first, so the conditions hold plain values here.
    """

    step_type = "Condition"

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        plain_values = Context(parameters={}, execution={}, step_property=_no_expressions_left)
        outcome = evaluate_conditions(arguments["Conditions"], plain_values, f"{context.step.where}Conditions")
        return StepResult({"Outcome": outcome}, outcome=outcome)


def _no_expressions_left(step_name: str, parts: tuple) -> object:
    raise EvaluationError(f"step {step_name}: a condition still held an expression after resolution")


class FailHandler(ApiStepHandler):
    """Ends the execution as Failed with the step's (resolved) ErrorMessage."""

    step_type = "Fail"

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        message = str(arguments.get("ErrorMessage") or "the pipeline reached a Fail step")
        raise StepFailed(f"{context.step.where}{message}")
