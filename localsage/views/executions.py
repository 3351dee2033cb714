"""`./dev local-run`, `./dev start --local` and `./dev executions`: a finished execution, or the list of them."""

from __future__ import annotations

from datetime import UTC, datetime

from invoke.exceptions import Exit

from localsage.runner.records import ExecutionRecord
from localsage.runner.statuses import ExecutionStatus
from localsage.views.console import console, print_json
from localsage.views.progress import print_summary, step_table
from localsage.views.tables import Rows, fitted

EXECUTION_COLUMNS = ("Execution", "Pipeline", "Status", "Started (UTC)", "Time", "Cache hits")
EXIT_CODES = {
    ExecutionStatus.SUCCEEDED: 0,
    ExecutionStatus.FAILED: 1,
    ExecutionStatus.COMPLETED_WITH_FAILURES: 1,  # a step failed, even if the steps meant to handle it ran
    ExecutionStatus.STOPPED: 130,
}


def finish_execution(record: ExecutionRecord, as_json: bool = False) -> None:
    """Print a finished execution (summary or JSON) and exit with its status's code."""
    if as_json:
        print_json(record.summary())
    else:
        print_summary(console, record)
    code = EXIT_CODES.get(record.status, 1)
    if code:
        raise Exit(code=code)


def show_executions(records: list[ExecutionRecord], as_json: bool = False) -> None:
    if as_json:
        print_json([record.summary() for record in records])
        return
    if len(records) == 1:
        console.print(step_table(records[0], console))
        return
    if not records:
        console.print("no local executions yet: run './dev local-run'")
        return
    rows = []
    for record in records:
        started = datetime.fromtimestamp(record.started, UTC).strftime("%Y-%m-%d %H:%M:%S")
        hits = sum(step.cache_hit for step in record.steps.values())
        rows.append(
            [record.execution_id, record.pipeline_name, record.status, started, f"{record.duration:.1f}s", str(hits)]
        )
    console.print(fitted(console, Rows(EXECUTION_COLUMNS, rows, right_aligned=frozenset({"Time", "Cache hits"}))))
