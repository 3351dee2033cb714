"""What a person sees while a pipeline runs: a live per-step table on a terminal, one line per change elsewhere."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from localsage.runner.records import ExecutionRecord, StepRecord
from localsage.runner.statuses import ExecutionStatus, StepStatus
from localsage.views.tables import Rows, fitted

STATE_STYLE = {
    StepStatus.PENDING: "dim",
    StepStatus.EXECUTING: "cyan",
    StepStatus.SUCCEEDED: "green",
    StepStatus.FAILED: "bold red",
    StepStatus.SKIPPED: "dim",
    StepStatus.STOPPED: "yellow",
    StepStatus.NOT_RUN: "dim",
}
RIGHT_ALIGNED = frozenset({"Time"})
EXECUTION_STYLE = {
    ExecutionStatus.SUCCEEDED: "green",
    ExecutionStatus.FAILED: "red",
    ExecutionStatus.COMPLETED_WITH_FAILURES: "yellow",
    ExecutionStatus.STOPPED: "yellow",
}


def step_note(step: StepRecord) -> str:
    if step.cache_hit:
        return f"cache hit (from {step.cached_from})"
    if step.stubbed:
        return "stubbed (--stub: its properties were given, it did not run)"
    if step.reused_from:
        return f"not selected: result of {step.reused_from}"
    if step.outcome is not None:
        return f"outcome {step.outcome}"
    if step.status == StepStatus.FAILED and step.failure:
        return step.failure.split(": ", 1)[-1].splitlines()[0]
    return ""


def step_table(record: ExecutionRecord, console: Console) -> RenderableType:
    rows = []
    for step in record.steps.values():
        duration = "" if step.duration is None else f"{step.duration:.1f}s"
        state = Text(step.status, style=STATE_STYLE.get(step.status, ""))
        rows.append([step.name, step.type, state, duration, step_note(step)])
    title = f"{record.pipeline_name} · {record.execution_id}"
    return fitted(console, Rows(("Step", "Type", "State", "Time", "Note"), rows, title, right_aligned=RIGHT_ALIGNED))


class Progress:
    """Shows the execution as it runs (the runner's Observer); `quiet` (for --json) shows nothing but failures.

    A reader that goes away (`| head`, a closed terminal) ends the display, never the run.
    """

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self.closed = False
        self.live: Live | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal and not self.quiet:
            self.live = Live(console=self.console, refresh_per_second=8, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.live:
            self._shown(lambda: self.live.__exit__(*exc_info))

    def refresh(self, record: ExecutionRecord) -> None:
        if self.live:
            self._shown(lambda: self.live.update(step_table(record, self.console)))

    def step_changed(self, record: ExecutionRecord, step: StepRecord) -> None:
        if self.live:
            self._shown(lambda: self.live.update(step_table(record, self.console)))
        elif not self.quiet and step.status != StepStatus.PENDING:
            duration = (
                "" if step.duration is None or step.status == StepStatus.EXECUTING else f" in {step.duration:.1f} s"
            )
            note = step_note(step)
            line = f"{step.name:<16} {step.status}{duration}" + (f"  ({note})" if note else "")
            self._shown(lambda: self.console.print(line, markup=False))

    def failure(self, step: StepRecord, tail: list[str]) -> None:
        def show() -> None:
            self.console.print(f"[bold red]{escape(step.name)} failed[/]; the last {len(tail)} lines of its output:")
            for line in tail:
                self.console.print(f"  {line}", markup=False, highlight=False)
            if step.log:
                self.console.print(f"full log: {step.log}", markup=False)

        self._shown(show)

    def _shown(self, show) -> None:
        if self.closed:
            return
        try:
            show()
        except (BrokenPipeError, ValueError):  # ValueError: writing to a closed file
            self.live, self.closed = None, True


def print_summary(console: Console, record: ExecutionRecord) -> None:
    """The end of a run: status, metrics from property files, condition outcomes, the registered model."""
    summary = record.summary()
    colour = EXECUTION_STYLE.get(record.status, "")
    console.print(
        f"[bold {colour}]{record.status}[/] {escape(record.pipeline_name)} execution {record.execution_id} "
        f"in {record.duration:.1f} s"
    )
    for name, document in record.property_files.items():
        console.print(f"  {name}: {_flatten(document)}", markup=False)
    for step in record.steps.values():
        if step.outcome is not None:
            console.print(f"  {step.name}: condition {'true' if step.outcome else 'false'}", markup=False)
    if summary["model_package_arn"]:
        console.print(
            f"  registered {summary['model_package_arn']} "
            f"(version {summary['model_package_version']}, {summary['model_approval_status']})",
            markup=False,
        )
    if record.failure:
        console.print(f"  [red]{escape(record.failure)}[/]", markup=True)


def _flatten(document: object, prefix: str = "") -> str:
    """`regression_metrics.rmse.value = 2.1` style, keeping the leaf values only."""
    if isinstance(document, dict):
        parts = [_flatten(value, f"{prefix}{key}.") for key, value in document.items()]
        return ", ".join(part for part in parts if part)
    if isinstance(document, float):
        return f"{prefix.rstrip('.').removesuffix('.value')}={document:.4g}"
    return f"{prefix.rstrip('.').removesuffix('.value')}={document}"
