"""`./dev emulator.up|down|status|reset`: the project's local AWS emulator."""

from __future__ import annotations

import shlex

from invoke.exceptions import Exit

from localsage.adapters import aws
from localsage.adapters.emulators.selection import emulator_for, for_project
from localsage.facts.config import load, local_dir, project_root
from localsage.views.console import console, say
from localsage.views.emulator import print_status


def up() -> None:
    print_status(for_project(say=say).up())


def down() -> None:
    console.print(for_project(say=say).down(), markup=False)


def status(as_json: bool = False) -> None:
    current = for_project(say=say).status()
    print_status(current, as_json=as_json)
    if not current.healthy:
        raise Exit(code=1)


def reset() -> None:
    console.print(for_project(say=say).reset(), markup=False)


def env_task() -> None:
    """Shell lines that point any AWS client (the CLI, the SDKs, a notebook's kernel) at the emulator."""
    root = project_root()
    config = load(root)
    endpoint = emulator_for(root, config, say).endpoint()
    variables = aws.client_environment(endpoint, config.region, local_dir(root))
    console.print(f"unset {' '.join(aws.CLEARED_IN_LOCAL_MODE)}", markup=False)
    for name, value in variables.items():
        console.print(f"export {name}={shlex.quote(value)}", markup=False)
