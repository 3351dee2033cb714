"""ForEach steps (SDK v3's ForEachStep): the body steps run once per item, up to `MaxConcurrency` iterations at once.

`IterableItems` is a list, or a JSON list as text (a String parameter); in an iteration `ForEach.CurrentItem`
is its item and a body step reads the body steps before it in that same iteration (`Steps.<body step>...`), and
steps outside the body as usual. Each body step runs through its own step type, as `<body step>-<index>` (its
job is named after that). The properties are SageMaker's: `IterationOutputs[i].<body step>...` per item,
`Selected` (the body step named in `Selector.Field`, from the iteration whose field is the largest (MaxBy) or
smallest (MinBy)), `Status` and the step counts. An iteration that fails fails the step, naming the item; the
other iterations finish first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.expressions import property_at, resolve
from localsage.runner.steps.base import ExecutionStopped, StepContext, StepFailed, StepResult, StepType

PICKS = {"MaxBy": max, "MinBy": min}
COUNTED = ("TotalStepCount", "SucceededStepCount", "FailedStepCount", "StoppedStepCount")


class ForEach(StepType):
    type_name = "ForEach"
    locally = "its body steps once per item, MaxConcurrency iterations at once; IterationOutputs and Selected"
    extra_properties = frozenset({"IterationOutputs", "Selected", "Status", "InputItemCount", *COUNTED})

    def check(self, step: Step) -> None:
        concurrency = step.arguments.get("MaxConcurrency", 1)
        if not isinstance(concurrency, int) or not 1 <= concurrency <= 50:
            raise UserError(f"{step.where}Arguments.MaxConcurrency must be an integer from 1 to 50")
        selector = step.arguments.get("Selector")
        if selector is not None and selector.get("Pick") not in PICKS:
            raise UserError(f"{step.where}Arguments.Selector.Pick must be one of {', '.join(PICKS)}")

    def arguments_of(self, step: Step) -> dict:
        """The items and the limit; the body and the selector resolve per iteration."""
        return {key: step.arguments[key] for key in ("IterableItems", "MaxConcurrency") if key in step.arguments}

    def run(self, arguments: dict, context: StepContext) -> StepResult:
        step = context.step
        items = _items(arguments["IterableItems"], step.where)
        types = context.types
        outer = context.expressions

        def iteration(index: int, item: object) -> dict[str, dict]:
            produced: dict[str, dict] = {}

            def step_property(name: str, parts: tuple) -> object:
                if name in produced:
                    return property_at(produced[name], parts, f"step {name} (iteration {index})")
                return outer.step_property(name, parts)

            expressions = replace(outer, step_property=step_property, current_item=(item,))
            for body_step in step.body:
                body_type = types[body_step.type]
                resolved = resolve(body_type.arguments_of(body_step), expressions, f"{body_step.where}Arguments")
                refused = body_type.request_problems(body_step, resolved, resolved=True)
                if refused:
                    raise StepFailed(refused[0])
                child = replace(
                    context,
                    step=replace(body_step, name=f"{body_step.name}-{index}"),
                    work_dir=context.work_dir / str(index) / body_step.name,
                    role=None,
                    found={},
                )
                produced[body_step.name] = body_type.run(resolved, child).properties
            return produced

        limit = int(arguments.get("MaxConcurrency", 1))
        with ThreadPoolExecutor(limit, thread_name_prefix="for-each") as pool:
            futures = [pool.submit(iteration, index, item) for index, item in enumerate(items)]
            outcomes = [future.exception() or future.result() for future in futures]
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, ExecutionStopped):
                raise outcome
            if isinstance(outcome, BaseException):
                shown = json.dumps(items[index])
                raise StepFailed(f"{step.where}iteration {index} (item {shown}): {outcome}") from outcome
        total = len(items) * len(step.body)
        properties = {
            "IterationOutputs": outcomes,
            "Status": "Succeeded",
            "InputItemCount": len(items),
            **dict(zip(COUNTED, (total, total, 0, 0), strict=True)),
        }
        selector = step.arguments.get("Selector")
        if selector:
            properties["Selected"] = _selected(selector, outcomes, outer, step.where)
        return StepResult(properties)


def _items(value: object, where: str) -> list:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise UserError(f"{where}IterableItems {value[:60]!r} is text but not a JSON list") from None
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}IterableItems must be a non-empty list (or a JSON list as text)")
    return value


def _selected(selector: dict, outcomes: list[dict], outer, where: str) -> dict:
    """The selected body step's properties: from the iteration whose Field is largest (MaxBy) or smallest (MinBy)."""
    field = selector["Field"]
    body_step = field["Get"].split(".")[1]

    def value(outcome: Mapping[str, dict]) -> object:
        reading = replace(outer, step_property=lambda name, parts: property_at(outcome[name], parts, f"step {name}"))
        return resolve(field, reading, f"{where}Arguments.Selector.Field")

    best = PICKS[selector["Pick"]](outcomes, key=value)
    return best[body_step]
