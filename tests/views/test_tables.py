"""Tables that fit: whole values at the natural width, words wrapped whole when narrower, records when neither."""

from __future__ import annotations

import io

from rich.console import Console

from localsage.views.tables import Rows, column_widths, fitted


def printed(rows: Rows, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, soft_wrap=True)
    console.print(fitted(console, rows))
    return console.file.getvalue()


ROWS = Rows(
    ("Execution", "Pipeline", "Note"),
    [["0ov67o5yi16k", "abalone-experimental", "cache hit (from 1m8wn0o1hqqj)"], ["1m8wn0o1hqqj", "abalone", ""]],
    title="executions",
)


def test_a_table_that_fits_keeps_every_value_on_one_line():
    output = printed(ROWS, 120)
    assert "│ 0ov67o5yi16k │ abalone-experimental │ cache hit (from 1m8wn0o1hqqj) │" in output
    assert max(len(line) for line in output.splitlines()) <= 120


def test_a_narrower_table_wraps_between_words_only():
    widths = column_widths(ROWS, 60)
    assert widths == [12, 20, 60 - 3 * 3 - 1 - 12 - 20]
    output = printed(ROWS, 60)
    assert "…" not in output and "abalone-experimental" in output and "1m8wn0o1hqqj)" in output
    assert max(len(line) for line in output.splitlines()) <= 60


def test_when_even_the_longest_words_do_not_fit_each_row_becomes_a_block():
    output = printed(ROWS, 40).splitlines()
    assert output[:2] == ["executions", "one block per row (the columns do not fit in 40)"]
    assert output[2:6] == [
        "-[ 1 ]-",
        "Execution  0ov67o5yi16k",
        "Pipeline   abalone-experimental",
        "Note       cache hit (from 1m8wn0o1hqqj)",
    ]


def test_values_are_text_not_markup():
    rows = Rows(("value",), [["[bold]not markup[/bold]"]], title="[red]title[/red]")
    output = printed(rows, 80)
    assert "[bold]not markup[/bold]" in output and "[red]title[/red]" in output
