"""`./dev kpi-check`: each query's result (or its problems), and the same as JSON."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table

from localsage.kpi.check import QueryOutcome, cell_text, shown_path
from localsage.views.console import console, print_json


def as_json(outcomes: list[QueryOutcome], root: Path) -> list[dict]:
    """The outcomes as plain data (what `--json` prints)."""
    return [
        {
            "name": outcome.name,
            "path": shown_path(outcome.path, root),
            "ok": outcome.ok,
            "problems": outcome.problems,
            "columns": list(outcome.columns),
            "row_count": outcome.row_count,
            "preview": [list(row) for row in outcome.rows],
            "duckdb_sql": outcome.duckdb_sql,
        }
        for outcome in outcomes
    ]


def print_outcomes(outcomes: list[QueryOutcome], root: Path, as_json_output: bool = False) -> None:
    """Each query's result as a table (a preview of its first rows), then its problems."""
    if as_json_output:
        print_json(as_json(outcomes, root))
        return
    for outcome in outcomes:
        title = escape(f"{outcome.name}  ({shown_path(outcome.path, root)})")
        if outcome.ok:
            table = Table(*outcome.columns, title=title, caption=f"{outcome.row_count} rows", title_justify="left")
            for row in outcome.rows:
                table.add_row(*(escape(cell_text(value)) for value in row))
            console.print(table)
        else:
            console.print(f"[bold red]FAILED[/] {title}")
            for problem in outcome.problems:
                console.print(f"  {problem}", markup=False)
