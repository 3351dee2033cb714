"""Tables that fit the terminal: every value is printed whole, never cut to `aba…`.

A table is laid out here, not by rich's own shrinking (which cuts words once the columns are squeezed): each
column is as wide as its longest value if that fits; otherwise the widest columns narrow, none below its
longest word, so text wraps only between words. When even that does not fit, each row becomes a block of `column  value`
lines, as psql's expanded display does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

Cell = str | Text
# What a column costs beside its text in rich's default box: one space either side and one rule.
COLUMN_FRAME = 3


@dataclass(frozen=True)
class Rows:
    columns: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    title: str = ""
    caption: str = ""
    right_aligned: frozenset[str] = field(default_factory=frozenset)


def fitted(console: Console, rows: Rows) -> RenderableType:
    """`rows` as a table whose every value is whole in `console`'s width, else as one block per record."""
    widths = column_widths(rows, console.width)
    return as_records(rows, console.width) if widths is None else as_table(rows, widths)


def column_widths(rows: Rows, width: int) -> list[int] | None:
    """Each column's text width so the table fits `width` with no word cut, or None when nothing does."""
    texts = [[column, *(_plain(row[index]) for row in rows.rows)] for index, column in enumerate(rows.columns)]
    natural = [max(cell_len(text) for text in column) for column in texts]
    shortest = [max((cell_len(word) for text in column for word in text.split()), default=0) for column in texts]
    available = width - COLUMN_FRAME * len(natural) - 1
    if sum(natural) <= available:
        return natural
    if sum(shortest) > available:
        return None
    # Narrow the widest column that can still narrow, one cell at a time: short columns keep their values whole.
    widths = list(natural)
    for _ in range(sum(natural) - available):
        narrowable = [index for index, (now, least) in enumerate(zip(widths, shortest, strict=True)) if now > least]
        widths[max(narrowable, key=lambda index: widths[index])] -= 1
    return widths


def as_table(rows: Rows, widths: Sequence[int]) -> Table:
    title, caption = (Text(text) if text else None for text in (rows.title, rows.caption))
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for column, width in zip(rows.columns, widths, strict=True):
        justify = "right" if column in rows.right_aligned else "left"
        table.add_column(Text(column), justify=justify, width=width, overflow="fold")
    for row in rows.rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


def as_records(rows: Rows, width: int) -> Group:
    parts: list[RenderableType] = [Text(line) for line in (rows.title, rows.caption) if line]
    parts.append(Text(f"one block per row (the columns do not fit in {width})", style="dim"))
    label_width = max((cell_len(column) for column in rows.columns), default=0)
    for number, row in enumerate(rows.rows, start=1):
        parts.append(Text(f"-[ {number} ]-", style="dim"))
        for column, cell in zip(rows.columns, row, strict=True):
            parts.append(Text.assemble((column.ljust(label_width), "bold"), "  ", _text(cell)))
    return Group(*parts)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)
