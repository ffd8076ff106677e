"""What the `conductor` subcommands share: the consoles, error lines, the store and graphs."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from conductor_cli.workflows import WORKFLOWS, WorkflowEntry, workflow
from nodes.resources import Resources, store_path_from_env
from nodes.resources import gateway_from_environment as build_gateway
from store.db import Store
from store.factory import database_url_from_env, open_store

__all__ = [
    "all_graphs",
    "build_gateway",
    "compile_graph",
    "console",
    "error_line",
    "os_failure",
    "out",
    "store_for",
    "store_path",
    "store_target",
]

console = Console(stderr=True)
out = Console()


def error_line(message: str, style: str = "red") -> None:
    """Print one line on stderr, as is (no markup, no wrapping)."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def store_path(path: Path | None) -> Path:
    """The local store's file (default `CONDUCTOR_DB` or var/conductor.db), its folder made.

    Raises:
        IsADirectoryError: When the path is a directory.
    """
    target = path or store_path_from_env()
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the store path is a directory", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def store_target(path: Path | None) -> str | Path:
    """`DATABASE_URL` when set and no `--db` is given, else the local store's file."""
    url = database_url_from_env()
    return url if url and path is None else store_path(path)


@contextmanager
def store_for(path: Path | None) -> Iterator[Store]:
    """Open the store (`DATABASE_URL`, else `CONDUCTOR_DB` or var/conductor.db)."""
    with open_store(store_target(path)) as store:
        yield store


def compile_graph(entry: WorkflowEntry, checkpointer: Any, resources: Resources) -> Any:
    """The workflow's graph bound to this command's resources, with its checkpointer."""
    return entry.make_builder(resources).compile(checkpointer=checkpointer, name=entry.name)


def all_graphs(checkpointer: Any, resources: Resources) -> dict[str, Any]:
    """Every workflow's graph, by name (escalations and resumes span workflows)."""
    return {name: compile_graph(workflow(name), checkpointer, resources) for name in WORKFLOWS}


def os_failure(exc: OSError) -> str:
    """An OSError in one line: what went wrong, and on which file."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        where = str(exc.filename)
        if exc.filename2 is not None:
            where += f" -> {exc.filename2}"
        return f"{what}: {where}"
    return what
