"""`conductor recover`: re-register with a restarted dev server the threads its checkpointer kept.

After a SIGKILL, `langgraph dev` (the in-memory runtime) forgets its threads (404), while
their checkpoints survive in the durable checkpointer `langgraph.json` names
(`server/checkpointer.py`). Creating each thread again with its own id
(`threads.create(thread_id=..., if_exists="do_nothing")`) reattaches its state: a pending
escalation can then be read and resumed as before the kill.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from server.checkpointer import open_server_checkpointer, server_checkpoints_from_env

_THREADS_SQL = "SELECT DISTINCT thread_id FROM checkpoints WHERE checkpoint_ns = '' ORDER BY 1"
_KEPT_METADATA = ("graph_id", "assistant_id")
"""Checkpoint metadata copied onto a recreated thread (the server finds the graph by it)."""


@dataclass
class RecoveryReport:
    """What `recover_threads` found and did."""

    recovered: list[str] = field(default_factory=list)
    already_known: list[str] = field(default_factory=list)


def checkpoint_thread_ids(target: str | Path) -> list[str]:
    """Every top-level thread id in the server's checkpointer (a URL or an SQLite file).

    A missing SQLite file holds no threads (it is not created).
    """
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(target) as conn:
            exists = conn.execute("SELECT to_regclass('checkpoints')").fetchone()
            if exists is None or exists[0] is None:
                return []
            return [str(row[0]) for row in conn.execute(_THREADS_SQL).fetchall()]
    path = Path(target)
    if not path.is_file():
        return []
    lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [str(row[0]) for row in lite.execute(_THREADS_SQL).fetchall()]
    except sqlite3.OperationalError:  # no checkpoints table: the server never wrote one
        return []
    finally:
        lite.close()


async def _thread_metadata(target: str | Path, thread_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The metadata worth restoring of each thread, read from its latest checkpoint."""
    found: dict[str, dict[str, Any]] = {}
    async with open_server_checkpointer(target) as saver:
        for thread_id in thread_ids:
            config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            latest = await saver.aget_tuple(config)
            metadata = dict(latest.metadata) if latest is not None else {}
            found[thread_id] = {k: metadata[k] for k in _KEPT_METADATA if metadata.get(k)}
    return found


async def recover_threads(
    server_url: str, target: str | Path, *, api_key: str | None = None
) -> RecoveryReport:
    """Re-register with the server at `server_url` every thread the checkpointer holds.

    Args:
        server_url: The LangGraph server's base URL.
        target: The server's checkpointer: a PostgreSQL URL or the SQLite file
            (`server.checkpointer.server_checkpoints_from_env()`).
        api_key: Key for a server whose auth requires one (the recovering user then owns
            the recreated threads, as the auth handler sets ownership on create).

    Returns:
        The thread ids recreated, and those the server still knew.
    """
    report = RecoveryReport()
    thread_ids = checkpoint_thread_ids(target)
    if not thread_ids:
        return report
    metadata = await _thread_metadata(target, thread_ids)
    client = get_client(url=server_url, api_key=api_key) if api_key else get_client(url=server_url)
    for thread_id in thread_ids:
        try:
            await client.threads.get(thread_id)
        except NotFoundError:
            await client.threads.create(
                thread_id=thread_id, if_exists="do_nothing", metadata=metadata[thread_id]
            )
            report.recovered.append(thread_id)
        else:
            report.already_known.append(thread_id)
    return report


async def recover_server(args: argparse.Namespace) -> int:
    """Recover the threads of a restarted dev server; print what was done."""
    target: str | Path = (
        str(args.checkpoints) if args.checkpoints else server_checkpoints_from_env()
    )
    if isinstance(target, str) and not target.startswith(("postgresql://", "postgres://")):
        target = Path(target)
    api_key = args.api_key or os.environ.get("CONDUCTOR_API_KEY") or None
    report = await recover_threads(args.server, target, api_key=api_key)
    print(
        f"recovered {len(report.recovered)} thread(s), "
        f"{len(report.already_known)} already known to {args.server}"
    )
    for thread_id in report.recovered:
        print(f"  {thread_id}")
    return 0
