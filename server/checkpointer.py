"""The LangGraph server's durable checkpointer (`langgraph.json` `checkpointer.path`).

`langgraph dev` keeps its threads in memory and flushes them to disk only now and then: a
SIGKILL loses recent threads. With this checkpointer the threads' state lives in SQLite
(`CONDUCTOR_SERVER_CHECKPOINTS`, default var/server-checkpoints.db) or, when `DATABASE_URL`
is set, in PostgreSQL, and survives a kill; `conductor recover --server URL` then
re-registers the threads the restarted server forgot.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

SERVER_CHECKPOINTS_ENV = "CONDUCTOR_SERVER_CHECKPOINTS"
DEFAULT_SERVER_CHECKPOINTS = Path("var/server-checkpoints.db")


def server_checkpoints_from_env(environ: Mapping[str, str] | None = None) -> str | Path:
    """Where the server's checkpoints live: `DATABASE_URL`, else the SQLite file."""
    env = os.environ if environ is None else environ
    url = (env.get("DATABASE_URL") or "").strip()
    if url:
        return url
    return Path(env.get(SERVER_CHECKPOINTS_ENV) or DEFAULT_SERVER_CHECKPOINTS)


@asynccontextmanager
async def open_server_checkpointer(target: str | Path) -> AsyncIterator[BaseCheckpointSaver]:
    """Open (and set up, idempotently) the checkpointer at `target`: a URL or an SQLite file.

    Args:
        target: A `postgresql://` URL for AsyncPostgresSaver, else the AsyncSqliteSaver file.

    Yields:
        The ready saver, closed on exit.
    """
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(target) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        yield saver


@asynccontextmanager
async def make_checkpointer() -> AsyncIterator[BaseCheckpointSaver]:
    """The server's checkpointer, from the environment (entered once per server event loop)."""
    async with open_server_checkpointer(server_checkpoints_from_env()) as saver:
        yield saver
