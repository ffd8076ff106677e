"""Tables readable in a pipe and in 80 columns, as Markdown and as JSON; CLI niceties."""

from __future__ import annotations

import io
import json
import threading

from rich.console import Console
from rich.table import Table

from conductor_cli.main import build_parser
from conductor_cli.render import grid, show, to_json, to_markdown


def wide_table() -> Table:
    columns = [f"column number {i}" for i in range(8)]
    return grid("wide", columns, [[f"value {i}" for i in range(8)], ["", *range(7)]])


def printed(table: Table, fmt: str, width: int = 80) -> str:
    buffer = io.StringIO()
    show(Console(file=buffer, width=width, force_terminal=False), table, fmt)
    return buffer.getvalue()


def test_a_narrow_table_is_plain_ascii_in_a_pipe() -> None:
    text = printed(grid("t", ["figure", "value"], [["tickets", 3], ["cost", 0.5]]), "table")
    assert "+--" in text and "| tickets" in text and "\x1b[" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_a_wide_table_becomes_one_block_per_row_in_80_columns() -> None:
    text = printed(wide_table(), "table")
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "column number 7  value 7" in text
    assert text.count("column number 0  value 0") == 2, "a blank first cell repeats the one above"
    assert "| column number 0" in printed(wide_table(), "table", width=300)


def test_markdown_and_json() -> None:
    table = grid("t", ["name", "n"], [["a|b", 1], ["c", 2.5]])
    markdown = to_markdown(table)
    assert markdown.splitlines()[2:4] == ["| name | n |", "| --- | ---: |"]
    assert "| a\\|b | 1 |" in markdown
    assert json.loads(to_json(table)) == {
        "title": "t",
        "rows": [{"name": "a|b", "n": 1}, {"name": "c", "n": 2.5}],
    }


def test_log_file_is_accepted_before_and_after_the_subcommand() -> None:
    parser = build_parser()
    before = parser.parse_args(["--log-file", "a.jsonl", "slo"])
    after = parser.parse_args(["slo", "--log-file", "b.jsonl", "--format", "markdown"])
    default = parser.parse_args(["slo"])
    assert (before.log_file, after.log_file) == ("a.jsonl", "b.jsonl")
    assert default.log_file.endswith("conductor.jsonl") and after.format == "markdown"


def test_sim_serve_says_where_it_listens() -> None:
    import uvicorn

    from simulator.app import create_app
    from simulator.server import _AnnouncingServer

    announced: list[str] = []
    config = uvicorn.Config(create_app(None), host="127.0.0.1", port=0, log_level="warning")

    def on_ready(url: str) -> None:
        announced.append(url)
        server.should_exit = True

    server = _AnnouncingServer(config, on_ready)
    thread = threading.Thread(target=server.run)
    thread.start()
    thread.join(20)
    (url,) = announced
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
