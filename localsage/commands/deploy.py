"""`./dev synth`, `./dev diff` and `./dev deploy`."""

from __future__ import annotations

from localsage.commands.flags import split_params
from localsage.deploy import deployment
from localsage.views.console import console, say


def synth_task(local: bool = False, context: list[str] | None = None) -> None:
    assembly = deployment.synth(None, local, split_params(context, "--context"), say=say)
    for line in deployment.summary_lines(assembly):
        console.print(line, markup=False)


def diff_task(use_aws: bool = False, stacks: list[str] | None = None, context: list[str] | None = None) -> None:
    console.print(
        deployment.diff(None, use_aws, deployment.stack_list(stacks), split_params(context, "--context"), say=say),
        markup=False,
    )


def deploy_task(
    local: bool = False,
    use_aws: bool = False,
    stacks: list[str] | None = None,
    yes: bool = False,
    context: list[str] | None = None,
) -> None:
    deployment.deploy(
        None,
        use_aws,
        deployment.stack_list(stacks),
        yes,
        split_params(context, "--context"),
        say=say,
        local=local,
    )
