"""`./dev kpi-check` and `./dev kpi-report`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from localsage.errors import UserError
from localsage.facts.config import project_root
from localsage.kpi import check, report
from localsage.views.console import console, err_console, say
from localsage.views.kpi import print_outcomes


def check_task(
    sql_files: Sequence[str] = (),
    source: str | None = None,
    use_aws: bool = False,
    as_json: bool = False,
    allow_empty: bool = False,
    query: str | None = None,
    output: str | None = None,
) -> None:
    """Print every query's results, then fail with one line per failing query."""
    root = project_root()
    outcomes = check.check(root, sql_files, source, use_aws, say, allow_empty, query, Path(output) if output else None)
    print_outcomes(outcomes, root, as_json_output=as_json)
    failures = check.failure_lines(outcomes, root)
    if failures:
        for line in failures:
            err_console.print(line, markup=False)
        raise UserError(f"{len(failures)} of {len(outcomes)} KPI queries failed", exit_code=1)
    say(f"all {len(outcomes)} KPI queries passed")


def report_task(output: str | None = None, source: str | None = None, use_aws: bool = False) -> None:
    path = report.write_report(project_root(), output, source, use_aws, say=say)
    console.print(str(path), markup=False)
