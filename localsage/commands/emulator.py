"""`./dev emulator.up|down|status|reset`: the project's local AWS emulator."""

from __future__ import annotations

from invoke.exceptions import Exit

from localsage.adapters.emulators.selection import for_project
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
