"""buildspec.yaml: CodeBuild runs only `./dev` tasks that exist, with flags those tasks accept."""

from __future__ import annotations

import ast
import shlex
import sys

import pytest
import yaml
from devops_support import REPO
from invoke import Program
from invoke.parser import ParseError, Parser, ParserContext

BUILDSPEC = REPO / "buildspec.yaml"
WRAPPER = "./dev"


def buildspec() -> dict:
    return yaml.safe_load(BUILDSPEC.read_text(encoding="utf-8"))


def build_commands() -> list[str]:
    phases = buildspec()["phases"]
    return [command for phase in phases.values() for command in phase.get("commands", [])]


def task_parser() -> Parser:
    """invoke's own command-line parser over the real task list of tasks.py, with its core options (--list)."""
    sys.path.insert(0, str(REPO))
    try:
        import tasks
    finally:
        sys.path.remove(str(REPO))
    return Parser(initial=ParserContext(args=Program().core_args()), contexts=tasks.namespace.to_contexts())


def parse_command(command: str) -> list[ParserContext]:
    """The parsed `./dev` command line: core options first, then one context per task. Raises ParseError."""
    words = shlex.split(command)
    if words[0] != WRAPPER:
        raise ParseError(f"does not go through the {WRAPPER} wrapper")
    parsed = task_parser().parse_argv(words[1:])
    for context in parsed[1:]:
        # invoke accepts a repeatable flag with no value; a build command giving none is still a mistake.
        empty = [flag for flag, argument in context.flags.items() if flag in words and not argument.got_value]
        if empty:
            raise ParseError(f"{context.name}: {', '.join(empty)} given without a value")
    return parsed


@pytest.mark.parametrize("command", build_commands())
def test_every_command_is_an_existing_task_with_valid_flags(command):
    try:
        parse_command(command)
    except ParseError as error:
        pytest.fail(f"buildspec.yaml runs `{command}`: {error}")


def test_the_checker_rejects_what_invoke_would_reject():
    for wrong in ("./dev no-such-task", "./dev deploy --no-such-flag", "./dev deploy --stacks", "invoke test"):
        with pytest.raises(ParseError):
            parse_command(wrong)


def test_the_build_installs_through_the_wrapper_then_tests_checks_deploys_and_upserts():
    parsed = [parse_command(command) for command in build_commands()]
    install = parsed[0]
    assert len(install) == 1 and install[0].args["list"].value, "the install phase is the wrapper's set-up alone"
    steps = [
        (context.name, sorted(name for name, argument in context.args.items() if argument.got_value))
        for contexts in parsed[1:]
        for context in contexts[1:]
    ]
    assert steps == [
        ("test", []),
        ("kpi-check", ["allow-empty", "aws"]),
        ("deploy", ["aws", "stacks", "yes"]),
        ("upsert", ["aws", "variant"]),
    ]


def test_runtimes_are_python_3_11_or_newer_and_node_22():
    runtimes = buildspec()["phases"]["install"]["runtime-versions"]
    major, minor = (int(part) for part in str(runtimes["python"]).split(".")[:2])
    assert (major, minor) >= (3, 11)
    assert str(runtimes["nodejs"]).split(".")[0] == "22"


def cicd_module() -> ast.Module:
    return ast.parse((REPO / "infra" / "stacks" / "cicd.py").read_text(encoding="utf-8"))


def test_the_codebuild_project_reads_this_buildspec():
    constants = {
        node.targets[0].id: node.value.value
        for node in cicd_module().body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert constants.get("BUILDSPEC") == BUILDSPEC.name


def test_the_stacks_variable_the_build_deploys_is_set_by_the_cicd_stack():
    referenced = {word for command in build_commands() for word in shlex.split(command) if word.startswith("$")}
    defined = {
        node.value for node in ast.walk(cicd_module()) if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert referenced, "the deploy command names the stacks to deploy"
    assert {name.removeprefix("$") for name in referenced} <= defined
