"""What the command server (runner/warm/commands.py) imports, and when a task starts it.

./dev forks these tasks from it (its WARM_TASKS list, which tests/runner/warm/test_commands.py holds to this
module): the modules below are what they import, and the service models below are what their clients read.
"""

from __future__ import annotations

from pathlib import Path

from localsage.adapters import aws
from localsage.runner.backends.process import isolation_command
from localsage.runner.backends.selection import warm_possible
from localsage.runner.run import CLIENTS
from localsage.runner.warm import commands

TASK_MODULES = (
    "invoke",
    "invoke.program",
    "localsage.commands.local_run",
    "localsage.commands.pipelines",
    "localsage.commands.project",
    "localsage.commands.registry",
    "localsage.commands.steps",
    "localsage.views.console",
)
# The run's clients, and those the permission check and the local events use.
SERVICES = (*CLIENTS, "iam", "sts", "events")


def prepare() -> None:
    """The server's one preparation after its imports: what every task would otherwise read or probe again."""
    aws.load_models(SERVICES)
    isolation_command()


def start_beside(state_dir: Path, lifetime: tuple[int, float] | None) -> None:
    """Start the command server for this state folder, in the background, unless it runs or cannot fork here."""
    if not warm_possible():
        return
    commands.start(
        state_dir,
        preload=list(TASK_MODULES),
        prepare=f"{__name__}:prepare",
        after_fork="localsage.views.console:detect_terminal",
        lifetime=lifetime,
    )
