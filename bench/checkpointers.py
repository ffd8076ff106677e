"""The checkpointers the benchmark runs each variant with: none, in-memory, SQLite, Postgres."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver


@asynccontextmanager
async def checkpointer(kind: str, path: Path) -> AsyncIterator[Any]:
    """A fresh checkpointer of `kind` (SQLite in the file `path`)."""
    if kind == "none":
        yield None
    elif kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
            yield saver
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(os.environ["DATABASE_URL"]) as saver:
            await saver.setup()
            yield saver
