"""The table of step types `./dev steps` prints."""

from __future__ import annotations

from localsage.views.console import console
from localsage.views.tables import Rows, fitted


def print_step_support(support) -> None:
    rows = [(row.type, "runs" if row.runs else "not run", row.locally) for row in support]
    caption = "A definition with a step that does not run is refused before any step runs, naming the step."
    console.print(fitted(console, Rows(("step type", "locally", "how (or why not)"), rows, caption=caption)))
