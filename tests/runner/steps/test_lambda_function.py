"""Lambda: the emulator's function, fetched through the Lambda API, runs once in a fresh process with the step's
arguments as its event; its answer becomes the typed OutputParameters."""

from __future__ import annotations

import secrets

import pytest
from definitions_support import deploy_function
from steps_support import context

from localsage.errors import UserError
from localsage.runner.definition import Step
from localsage.runner.steps.base import StepFailed
from localsage.runner.steps.lambda_function import LambdaFunction

APP = """
import os
import helper

def handler(event, context):
    return {
        "total": sum(event["values"]),
        "label": helper.LABEL + os.environ["SUFFIX"],
        "ok": "true",
        "ratio": context.get_remaining_time_in_millis() > 0,
        "function": context.function_name,
    }
"""
OUTPUTS = [
    {"OutputName": "total", "OutputType": "Integer"},
    {"OutputName": "label", "OutputType": "String"},
    {"OutputName": "ok", "OutputType": "Boolean"},
    {"OutputName": "function", "OutputType": "String"},
]


def lambda_context(target, tmp_path, arn: str, outputs=OUTPUTS):
    step = context(target, tmp_path, "Summarise", "Lambda", {})
    step.step = Step(
        name="Summarise",
        type="Lambda",
        arguments={},
        path="Steps[0]",
        raw={"Name": "Summarise", "Type": "Lambda", "FunctionArn": arn, "OutputParameters": outputs},
    )
    return step


def function(target, files: dict[str, str], **configuration) -> str:
    return deploy_function(target, f"fn-{secrets.token_hex(4)}", files, **configuration)


def test_the_function_runs_with_its_package_environment_and_the_steps_arguments(local_target, tmp_path):
    files = {"app.py": APP, "helper.py": "LABEL = 'sum-'\n"}
    arn = function(local_target, files, Environment={"Variables": {"SUFFIX": "done"}}, Timeout=30)
    step = lambda_context(local_target, tmp_path, arn)
    properties = LambdaFunction().run({"values": [1, 2, 3]}, step).properties
    name = arn.rsplit(":", 1)[-1]
    assert properties["OutputParameters"] == {"total": 6, "label": "sum-done", "ok": True, "function": name}


def test_an_exception_in_the_function_fails_the_step_with_lambdas_error(local_target, tmp_path):
    arn = function(local_target, {"app.py": "def handler(event, context):\n    raise KeyError('values')\n"})
    with pytest.raises(StepFailed, match=r"failed: KeyError: 'values'"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, arn))


def test_a_missing_or_mistyped_output_is_named(local_target, tmp_path):
    arn = function(local_target, {"app.py": "def handler(event, context):\n    return {'total': 'many'}\n"})
    with pytest.raises(StepFailed, match=r"output total is 'many', not a Integer"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, arn, OUTPUTS[:1]))
    with pytest.raises(StepFailed, match=r"has no output 'label'"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, arn, OUTPUTS[1:2]))


def test_the_timeout_is_lambdas(local_target, tmp_path):
    arn = function(
        local_target, {"app.py": "import time\ndef handler(event, context):\n    time.sleep(30)\n"}, Timeout=1
    )
    with pytest.raises(StepFailed, match="Task timed out after 1 seconds"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, arn))


def test_other_runtimes_and_unknown_functions_are_refused(local_target, tmp_path):
    arn = function(local_target, {"app.js": "exports.handler = async () => ({})"}, Runtime="nodejs20.x")
    with pytest.raises(UserError, match="is runtime nodejs20.x: only zip packages of python3.x runtimes run locally"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, arn))
    missing = "arn:aws:lambda:us-east-1:000000000000:function:nowhere"
    with pytest.raises(UserError, match="is not in the emulator's Lambda"):
        LambdaFunction().run({}, lambda_context(local_target, tmp_path, missing))


def test_a_step_without_function_arn_is_refused_before_anything_runs():
    step = Step(name="Summarise", type="Lambda", arguments={}, path="Steps[0]", raw={"Name": "Summarise"})
    with pytest.raises(UserError, match="step Summarise: FunctionArn is missing"):
        LambdaFunction().check(step)
