"""Benchmarks (`./dev bench <suite>`): each suite is a module with `run(root, say) -> dict` of measurements.

Suites are imported only when run, so listing the tasks stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from localsage.errors import UserError

SUITES = {
    "kpi": "localsage.bench.kpi",
    "peers": "localsage.bench.peers",
    "runner": "localsage.bench.runner",
}
# What `./dev bench --help` and the task's help for SUITE say of each suite.
SUITE_HELP = "runner (local-run vs the floor), peers (vs Metaflow and KFP local), kpi (1M rows)"
HELP_WORDS = ("-h", "--help")


def run(suite: str, root: Path, say: Callable[[str], None] = print) -> dict:
    """Run one benchmark suite by name and return its measurements."""
    module_name = SUITES.get(suite)
    if module_name is None:
        raise UserError(f"unknown benchmark suite '{suite}': use one of {', '.join(sorted(SUITES))}")
    return importlib.import_module(module_name).run(root, say=say)


def run_task(suite: str, as_json: bool = False) -> None:
    """`./dev bench SUITE`: run it and print its measurements (or JSON)."""
    from localsage.facts.config import project_root
    from localsage.views.console import console, print_json, say

    if suite in HELP_WORDS:  # invoke hands `./dev bench --help` to the task as its suite
        console.print(f"usage: ./dev bench SUITE [--json]; SUITE is one of: {SUITE_HELP}", markup=False)
        return
    results = run(suite, project_root(), say=say)
    print_json(results) if as_json else print_results(results, console)


def print_results(results: dict, console) -> None:
    """Measurements as indented `name  value` lines (nested mappings become sections)."""

    def show(mapping: dict, depth: int) -> None:
        for name, value in mapping.items():
            if isinstance(value, dict):
                console.print(f"{'  ' * depth}{name}", markup=False)
                show(value, depth + 1)
            else:
                console.print(f"{'  ' * depth}{name:<16} {value}", markup=False)

    show(results, 0)
