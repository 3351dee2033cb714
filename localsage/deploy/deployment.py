"""Synthesize, diff and deploy the CDK app: to the emulator (the default) or, explicitly, to AWS."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from localsage.adapters import targets
from localsage.deploy import cdk_cli
from localsage.deploy.local import deploy_local, resolve_stack_names, stacks_to_deploy
from localsage.errors import UserError
from localsage.facts import config as project_config
from localsage.facts.cdk_context import BOOTSTRAP_QUALIFIER
from localsage.facts.config import TOOLING_STAGE

BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"


def synth(
    root: Path | None = None,
    local: bool = False,
    context: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> cdk_cli.Assembly:
    """Synthesize every stack into infra/cdk.out (for AWS by default, for the emulator with `local`)."""
    return cdk_cli.synth(root or project_config.project_root(), "local" if local else "aws", context, say=say)


def summary_lines(assembly: cdk_cli.Assembly, root: Path | None = None) -> list[str]:
    """One line per synthesized template (path and resource count), then what synth left out."""
    root = root or project_config.project_root()
    lines = [
        f"{stack.selector:<36} {stack.resource_count:>3} resources  {cdk_cli.relative_to(stack.path, root)}"
        for stack in assembly.stacks
    ]
    return lines + [f"note: {note}" for note in assembly.notes]


def stack_list(values: list[str] | None) -> list[str] | None:
    """`--stacks` values, repeated or comma-separated; None (all stacks) only when the flag was not given.

    An empty value (an unset variable in a script) must not widen a deploy to every stack.
    """
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        raise UserError("--stacks was given but names no stack: give ml-platform, notifications, kpi or cicd")
    return names


def diff(
    root: Path | None = None,
    use_aws: bool = False,
    requested: list[str] | None = None,
    context: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> str:
    """`cdk diff` of the synthesized stacks against the emulator (template method) or against AWS."""
    root = root or project_config.project_root()
    target = targets.select(use_aws, root, say)
    if use_aws:
        environment = _aws_environment(target)
        assembly = cdk_cli.synth(root, "aws", context, environment=environment, say=say)
        selectors = _selectors(assembly, target.config.stack_names, requested)
        return cdk_cli.run_cli(root, ["diff", "--app", str(assembly.outdir), *selectors], environment, "cdk diff")
    names = stacks_to_deploy(root, requested, say)
    assembly = cdk_cli.synth(root, "local", context, say=say)
    selectors = [assembly.stack(name, TOOLING_STAGE).selector for name in names]
    # The change-set method makes moto fail DeleteChangeSet and the CLI retry for ~50 s.
    arguments = ["diff", "--app", str(assembly.outdir), "--method=template", *selectors]
    return cdk_cli.run_cli(root, arguments, os.environ, "cdk diff --local")


def deploy(
    root: Path | None = None,
    use_aws: bool = False,
    requested: list[str] | None = None,
    yes: bool = False,
    context: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
    confirm: Callable[[str], bool] | None = None,
    local: bool = False,
):
    """Deploy to the emulator (default, or `local`) or, with `use_aws`, to AWS after a diff and a confirmation."""
    root = root or project_config.project_root()
    if not targets.aws_chosen(local, use_aws):
        return deploy_local(root, requested, context, say)
    if context:
        key = sorted(context)[0]
        raise UserError(
            f"--context {key}: an AWS deploy takes its settings from infra/cdk.json and project.toml only "
            "(the CI/CD pipeline synthesizes from the repository, so a command-line value would be undone by its "
            f"next run): set {key} in infra/cdk.json's context and commit it"
        )
    target = targets.real_aws(root)
    check_bootstrapped(target)
    environment = _aws_environment(target)
    assembly = cdk_cli.synth(root, "aws", context, environment=environment, say=say)
    for note in assembly.notes:
        say(f"synth: {note}")
    selectors = _selectors(assembly, target.config.stack_names, requested)
    say(cdk_cli.run_cli(root, ["diff", "--app", str(assembly.outdir), *selectors], environment, "cdk diff"))
    accounts = sorted({stack.account or target.account for stack in assembly.stacks if stack.selector in selectors})
    question = f"deploy {', '.join(selectors)} to account {', '.join(accounts)} in {target.region}?"
    if not yes and not (confirm or _ask)(question):
        raise UserError("deploy cancelled: nothing was changed", exit_code=1)
    arguments = ["deploy", "--app", str(assembly.outdir), "--require-approval", "never", "--exclusively", *selectors]
    return cdk_cli.run_cli(root, arguments, environment, "cdk deploy --aws", say=say)


def check_bootstrapped(target: targets.Target) -> None:
    """The CDK bootstrap stack must exist in the account and region (it holds the deploy roles and assets)."""
    ssm = target.client("ssm")
    try:
        ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
    except ssm.exceptions.ParameterNotFound:
        raise UserError(
            f"account {target.account} is not CDK-bootstrapped in {target.region}: run "
            f"'node_modules/.bin/cdk bootstrap aws://{target.account}/{target.region}' once, then deploy again"
        ) from None


def _aws_environment(target: targets.Target) -> dict[str, str]:
    return {**os.environ, "CDK_DEFAULT_ACCOUNT": target.account, "CDK_DEFAULT_REGION": target.region}


def _selectors(assembly: cdk_cli.Assembly, names: dict[str, str], requested: list[str] | None) -> list[str]:
    """How the CDK CLI names the chosen stacks (all by default): each in every stage that has it."""
    chosen = resolve_stack_names(names, requested) if requested else [stack.name for stack in assembly.stacks]
    selected = assembly.selected(chosen)
    missing = sorted(set(chosen) - {stack.name for stack in selected})
    if missing:
        raise assembly.not_found(missing[0])
    return [stack.selector for stack in selected]


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UserError(f"{question} needs a confirmation: run it on a terminal, or pass --yes (as CodeBuild does)")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
