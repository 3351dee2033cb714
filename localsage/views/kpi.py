"""`./dev kpi-check`: each query's result (or its problems), and the same as JSON."""

from __future__ import annotations

from pathlib import Path

from localsage.kpi.check import QueryOutcome, cell_text, shown_path
from localsage.views.console import console, print_json
from localsage.views.tables import Rows, fitted


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
            "exported": str(outcome.exported) if outcome.exported else None,
        }
        for outcome in outcomes
    ]


def print_outcomes(outcomes: list[QueryOutcome], root: Path, as_json_output: bool = False) -> None:
    """Each query's result as a table (a preview of its first rows), then its problems."""
    if as_json_output:
        print_json(as_json(outcomes, root))
        return
    for outcome in outcomes:
        title = f"{outcome.name}  ({shown_path(outcome.path, root)})"
        if outcome.ok:
            cells = [[cell_text(value) for value in row] for row in outcome.rows]
            console.print(fitted(console, Rows(outcome.columns, cells, title, row_count_caption(outcome))))
            if outcome.exported:
                console.print(f"all {outcome.row_count} rows written to {outcome.exported}", markup=False)
        else:
            console.print(f"[bold red]FAILED[/] {title}", highlight=False, markup=True)
            for problem in outcome.problems:
                console.print(f"  {problem}", markup=False)


def row_count_caption(outcome: QueryOutcome) -> str:
    if len(outcome.rows) == outcome.row_count:
        return f"{outcome.row_count} row" if outcome.row_count == 1 else f"{outcome.row_count} rows"
    more = f"written to {outcome.exported}" if outcome.exported else "--output FILE.csv writes them all"
    return f"the first {len(outcome.rows)} of {outcome.row_count} rows ({more})"
