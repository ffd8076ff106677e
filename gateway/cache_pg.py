"""The response cache's `responses` table in PostgreSQL (`DATABASE_URL`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from gateway.cache import CachedResponse, first_hit

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    agent TEXT NOT NULL,
    output TEXT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
)
"""
_PG_SCHEMA_LOCK = 0x43616368  # pg_advisory_xact_lock key: concurrent set-ups run one at a time


class PgResponseCache:
    """The `responses` table in PostgreSQL (`DATABASE_URL`), with `ResponseCache`'s methods.

    One async connection per event loop, opened on first use; the table is created then,
    idempotently.
    """

    def __init__(self, url: str) -> None:
        """Use the database at `url` (a `postgresql://` URL)."""
        self.url = url
        self.path = _redacted(url)  # what logs show
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def get(self, keys: Sequence[str]) -> CachedResponse | None:
        """Return the answer stored under the first of `keys` that has one."""
        if not keys:
            return None
        conn = await self._connection()
        cursor = await conn.execute(
            "SELECT key, endpoint, model, output, input_tokens, output_tokens "
            "FROM responses WHERE key = ANY(%s)",
            (list(keys),),
        )
        rows = {row[0]: row for row in await cursor.fetchall()}
        return first_hit(rows, keys)

    async def put(
        self,
        key: str,
        *,
        endpoint: str,
        model: str,
        agent: str,
        output_json: str,
        usage: dict[str, Any],
    ) -> None:
        """Store (or replace) the answer under `key`."""
        conn = await self._connection()
        await conn.execute(
            "INSERT INTO responses VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (key) DO UPDATE SET endpoint = excluded.endpoint, "
            "model = excluded.model, agent = excluded.agent, output = excluded.output, "
            "input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, "
            "created_at = excluded.created_at",
            (
                key,
                endpoint,
                model,
                agent,
                output_json,
                int(usage.get("input_tokens", 0)),
                int(usage.get("output_tokens", 0)),
                time.time(),
            ),
        )

    async def aclose(self) -> None:
        """Close the connection (reopened on the next use)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if self._loop is asyncio.get_running_loop():
                await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        loop = asyncio.get_running_loop()
        if self._conn is not None and self._loop is loop and not self._conn.closed:
            return self._conn
        # An async connection belongs to its event loop: the CLI runs a fresh loop per
        # command on one cache, so a connection from another loop is dropped, not reused.
        if self._opening is None or self._opening[0] is not loop:
            self._opening = (loop, asyncio.Lock())
        async with self._opening[1]:
            if self._conn is None or self._loop is not loop or self._conn.closed:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=5
                )
                async with conn.transaction():
                    await conn.execute(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
                    await conn.execute(_PG_SCHEMA)
                self._conn, self._loop = conn, loop
        assert self._conn is not None
        return self._conn


def _redacted(url: str) -> str:
    """`url` without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
