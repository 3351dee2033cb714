"""`./dev names` and `./dev init`: the derived AWS names."""

from __future__ import annotations

from localsage.facts.config import ProjectConfig, derived_names
from localsage.views.console import console, print_json


def print_names(chosen: ProjectConfig, as_json: bool = False) -> None:
    names = derived_names(chosen)
    if as_json:
        print_json(names)
        return
    for key, value in names.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{name}={text}" for name, text in value.items())
        else:
            shown = ", ".join(value) if isinstance(value, list) else value
        console.print(f"  {key:<22} {shown}", markup=False)
