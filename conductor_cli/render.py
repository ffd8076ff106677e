"""Tables for people and for pipes: one table rendered as a terminal table, Markdown or JSON.

Commands build their tables as rich `Table`s (rows of text cells); `show` prints one in the
format asked for (`--format table|markdown|json`). In `table` format a table too wide for the
console (an 80-column terminal, or a pipe, which rich treats as 80 columns) is printed as one
block of `column: value` lines per row instead of being squeezed until every word wraps, and
a pipe gets plain ASCII borders, without colour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table

Format = Literal["table", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("table", "markdown", "json")

_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Grid:
    """A table's text: its title, column headers, rows of cells, and where sections end."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    right: list[bool]
    section_ends: set[int]

    def natural_width(self) -> int:
        """Characters a bordered table needs to show every cell on one line."""
        widths = [
            max([len(header), *(len(row[i]) for row in self.rows)])
            for i, header in enumerate(self.columns)
        ]
        return sum(widths) + 3 * len(widths) + 1


def grid(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """A rich table from rows of values (None shows as `-`); numbers are right-aligned."""
    table = Table(title=title)
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]
    for column, right in zip(columns, numeric, strict=True):
        table.add_column(column, justify="right" if right else "left")
    for row in rows:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    return table


def grid_of(table: Table) -> Grid:
    """The text of a rich table (cells that are not text are rendered as plain text)."""
    columns = list(table.columns)
    cells = [[_text(cell) for cell in column.cells] for column in columns]
    count = max((len(c) for c in cells), default=0)
    rows = [[c[i] if i < len(c) else "" for c in cells] for i in range(count)]
    title = _text(table.title) if table.title is not None else ""
    return Grid(
        title=title,
        columns=[_text(column.header) for column in columns],
        rows=rows,
        right=[column.justify == "right" for column in columns],
        section_ends={i for i, row in enumerate(table.rows) if row.end_section},
    )


def _text(value: Any) -> str:
    plain = getattr(value, "plain", None)
    return plain if isinstance(plain, str) else str(value)


def to_markdown(table: Table) -> str:
    """The table as GitHub-flavoured Markdown, its title as a bold line above."""
    g = grid_of(table)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    rule = "| " + " | ".join("---:" if r else "---" for r in g.right) + " |"
    body = [line(g.columns), rule, *(line(row) for row in g.rows)]
    return "\n".join(([f"**{g.title}**", ""] if g.title else []) + body)


def to_json(table: Table) -> str:
    """The table as JSON: `{"title", "rows": [{column: value}]}`, numbers as numbers."""
    g = grid_of(table)
    rows = [
        {column: _value(cell) for column, cell in zip(g.columns, row, strict=True)}
        for row in g.rows
    ]
    return json.dumps({"title": g.title, "rows": rows}, indent=2, ensure_ascii=False)


def _value(cell: str) -> Any:
    text = cell.strip()
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return None if text in ("", "-") else cell


def to_blocks(table: Table) -> str:
    """One block of `column: value` lines per row: for tables wider than the console.

    A blank first cell means "as above" in a table (a group's later rows); a block repeats it.
    """
    g = grid_of(table)
    pad = max((len(c) for c in g.columns), default=0)
    blocks = []
    above = ""
    for row in g.rows:
        if not any(cell.strip() for cell in row):
            continue
        if row[0].strip():
            above = row[0]
        else:
            row = [above, *row[1:]]
        blocks.append(
            "\n".join(f"{c.ljust(pad)}  {v}" for c, v in zip(g.columns, row, strict=True))
        )
    title = [g.title, "=" * min(len(g.title), 78), ""] if g.title else []
    return "\n".join(title) + "\n\n".join(blocks)


def show(console: Console, table: Table, fmt: str = "table") -> None:
    """Print `table` on `console` in `fmt` (`table`, `markdown` or `json`).

    Raises:
        ValueError: On an unknown format.
    """
    if fmt == "markdown":
        text = to_markdown(table)
    elif fmt == "json":
        text = to_json(table)
    elif fmt == "table":
        if grid_of(table).natural_width() > console.width:
            text = to_blocks(table)
        else:
            if not console.is_terminal:
                table.box = box.ASCII
            console.print(table)
            return
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    console.print(text, markup=False, highlight=False, soft_wrap=True)
