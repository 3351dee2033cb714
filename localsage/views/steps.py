"""The table of step types `./dev steps` prints."""

from __future__ import annotations

from localsage.views.console import console
from localsage.views.tables import Rows, fitted


def print_step_support(support) -> None:
    rows = [(row.type, row.support, row.locally) for row in support]
    caption = (
        "A step that needs a stub is refused before any step runs, naming it, unless `./dev local-run --stub "
        "STEP=FILE.json` gives the properties it would expose."
    )
    console.print(fitted(console, Rows(("step type", "locally", "how (or why not)"), rows, caption=caption)))
