"""buildspec.yaml and buildspec-promote.yaml: CodeBuild runs only `./dev` tasks that exist, with flags those tasks
accept, and the CI/CD stack runs exactly these two files."""

from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path

import pytest
import yaml
from devops_support import REPO
from invoke import Program
from invoke.parser import ParseError, Parser, ParserContext

BUILDSPEC = REPO / "buildspec.yaml"
PROMOTE_BUILDSPEC = REPO / "buildspec-promote.yaml"
WRAPPER = "./dev"


def buildspec(path: Path = BUILDSPEC) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def build_commands(path: Path = BUILDSPEC) -> list[str]:
    phases = buildspec(path)["phases"]
    return [command for phase in phases.values() for command in phase.get("commands", [])]


def every_command() -> list[str]:
    return build_commands(BUILDSPEC) + build_commands(PROMOTE_BUILDSPEC)


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


@pytest.mark.parametrize("command", every_command())
def test_every_command_is_an_existing_task_with_valid_flags(command):
    try:
        parse_command(command)
    except ParseError as error:
        pytest.fail(f"a buildspec runs `{command}`: {error}")


def test_the_checker_rejects_what_invoke_would_reject():
    for wrong in ("./dev no-such-task", "./dev deploy --no-such-flag", "./dev deploy --stacks", "invoke test"):
        with pytest.raises(ParseError):
            parse_command(wrong)


def steps_of(path: Path) -> list[tuple[str, list[str]]]:
    """Each task a buildspec runs after its install phase, with the flags it gives; the install is checked."""
    parsed = [parse_command(command) for command in build_commands(path)]
    install = parsed[0]
    assert len(install) == 1 and install[0].args["list"].value, "the install phase is the wrapper's set-up alone"
    return [
        (context.name, sorted(name for name, argument in context.args.items() if argument.got_value))
        for contexts in parsed[1:]
        for context in contexts[1:]
    ]


def test_the_synth_step_tests_then_synthesizes_from_the_repository_alone():
    assert steps_of(BUILDSPEC) == [("test", []), ("synth", [])], "no --context: the settings are committed ones"


def test_the_promotion_upserts_the_stable_pipeline_then_checks_the_kpi_queries_in_aws():
    assert steps_of(PROMOTE_BUILDSPEC) == [("upsert", ["aws", "variant"]), ("kpi-check", ["allow-empty", "aws"])]


@pytest.mark.parametrize("path", [BUILDSPEC, PROMOTE_BUILDSPEC], ids=lambda path: path.name)
def test_runtimes_are_python_3_11_or_newer_and_node_22(path):
    runtimes = buildspec(path)["phases"]["install"]["runtime-versions"]
    major, minor = (int(part) for part in str(runtimes["python"]).split(".")[:2])
    assert (major, minor) >= (3, 11)
    assert str(runtimes["nodejs"]).split(".")[0] == "22"


def cicd_module() -> ast.Module:
    return ast.parse((REPO / "infra" / "stacks" / "cicd.py").read_text(encoding="utf-8"))


def test_the_cicd_stack_runs_these_two_buildspecs():
    constants = {
        node.targets[0].id: node.value.value
        for node in cicd_module().body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert constants.get("BUILDSPEC") == BUILDSPEC.name
    assert constants.get("PROMOTE_BUILDSPEC") == PROMOTE_BUILDSPEC.name


def test_no_command_depends_on_a_variable_only_a_pipeline_would_set():
    assert not [command for command in every_command() if "$" in command]
