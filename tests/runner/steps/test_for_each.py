"""ForEach: the body once per item (a Lambda body here; the SDK-built case is in tests/controlplane/test_step_types.py),
each iteration reading its own item and its own earlier body steps; failures name the item; bodies are checked."""

from __future__ import annotations

import json
import secrets

import pytest
from definitions_support import deploy_function, hand_written

from localsage.runner.definition import DefinitionError, load, validate
from localsage.runner.orchestrator import Execution, check
from localsage.runner.run import run

DOUBLE = """
def handler(event, context):
    if event["value"] == "boom":
        raise ValueError("cannot double boom")
    return {"doubled": event["value"] * 2, "label": event["label"]}
"""


def body(arn: str, value: dict, name: str = "Double") -> dict:
    return {
        "Name": name,
        "Type": "Lambda",
        "FunctionArn": arn,
        "Arguments": {"value": value, "label": {"Get": "ForEach.CurrentItem.label"}},
        "OutputParameters": [{"OutputName": "doubled", "OutputType": "Integer"}],
    }


def for_each(items, arn: str, **extra) -> dict:
    arguments = {
        "IterableItems": items,
        "MaxConcurrency": 2,
        "ForEachBody": [body(arn, {"Get": "ForEach.CurrentItem.n"})],
        **extra,
    }
    return {"Name": "FanOut", "Type": "ForEach", "Arguments": arguments}


def execute(target, definition: dict, state_dir, backend):
    loaded = load(definition)
    execution_id = secrets.token_hex(6)
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:pipeline/for-each/execution/{execution_id}"
    execution = Execution(execution_id, arn, "for-each", "arn:aws:sagemaker:us-east-1:000000000000:pipeline/for-each")
    return run(loaded, loaded.resolve_parameters({}), target, backend, execution=execution, state_dir=state_dir,
               use_cache=False, say=lambda message: None)  # fmt: skip


@pytest.fixture(scope="module")
def function(local_target) -> str:
    return deploy_function(local_target, f"double-{secrets.token_hex(3)}", {"app.py": DOUBLE}, Timeout=30)


def test_each_item_runs_the_body_and_the_selector_picks_the_largest(local_target, tmp_path, warm_backend, function):
    items = [{"n": 2, "label": "a"}, {"n": 5, "label": "b"}, {"n": 3, "label": "c"}]
    selector = {"Pick": "MaxBy", "Field": {"Get": "IterationOutput.Double.OutputParameters['doubled']"}}
    parameters = [{"Name": "Items", "Type": "String", "DefaultValue": json.dumps(items)}]
    fan_out = for_each({"Get": "Parameters.Items"}, function, Selector=selector)
    record = execute(local_target, hand_written([fan_out], parameters), tmp_path, warm_backend)
    assert record.status == "Succeeded", record.failure
    properties = record.steps["FanOut"].properties
    outputs = [iteration["Double"]["OutputParameters"]["doubled"] for iteration in properties["IterationOutputs"]]
    assert outputs == [4, 10, 6]
    assert properties["Selected"]["OutputParameters"]["doubled"] == 10
    assert (properties["InputItemCount"], properties["TotalStepCount"], properties["Status"]) == (3, 3, "Succeeded")


def test_a_failing_iteration_fails_the_step_naming_its_item(local_target, tmp_path, warm_backend, function):
    items = [{"n": 1, "label": "fine"}, {"n": "boom", "label": "bad"}]
    record = execute(local_target, hand_written([for_each(items, function)]), tmp_path, warm_backend)
    assert record.status == "Failed"
    assert 'iteration 1 (item {"n": "boom", "label": "bad"})' in record.failure
    assert "cannot double boom" in record.failure


def test_bodies_are_checked_before_anything_runs():
    arn = "arn:aws:lambda:us-east-1:000000000000:function:x"
    fail_body = for_each([1], arn)
    fail_body["Arguments"]["ForEachBody"].append({"Name": "Stop", "Type": "Fail", "Arguments": {}})
    with pytest.raises(DefinitionError, match="a ForEach body cannot hold a Fail step"):
        load(hand_written([fail_body]))
    stray = for_each([1], arn, Selector={"Pick": "MinBy", "Field": {"Get": "IterationOutput.Other.X"}})
    with pytest.raises(DefinitionError, match="reads the iteration output of Other, which is not in the ForEach body"):
        check(load(hand_written([stray])))
    wrong = for_each([1], arn)
    wrong["Arguments"]["ForEachBody"].append(body(arn, {"Get": "Steps.Double.OutputParameters"}, "Again"))
    wrong["Arguments"]["ForEachBody"][1]["Arguments"]["value"] = {"Get": "Steps.Double.Nope"}
    with pytest.raises(DefinitionError, match="reads property Nope of step Double"):
        validate(load(hand_written([wrong])), {"ForEach": frozenset(), "Lambda": frozenset({"OutputParameters"})})
