"""Checkpointers for runs outside the LangGraph server: SQLite by default, Postgres by URL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

DEFAULT_CHECKPOINTS = Path("var/checkpoints.db")


@asynccontextmanager
async def open_checkpointer(
    path: Path | None = None, database_url: str | None = None
) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the checkpointer of CLI runs.

    Args:
        path: SQLite file; default `var/checkpoints.db`.
        database_url: A Postgres URL; default the `DATABASE_URL` env var. When set, it wins.

    Yields:
        A ready (set-up) async checkpointer.
    """
    url = database_url if database_url is not None else os.environ.get("DATABASE_URL")
    if url:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    target = path or DEFAULT_CHECKPOINTS
    target.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(target)) as saver:
        await saver.setup()
        yield saver
