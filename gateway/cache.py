"""Response cache (SQLite; PostgreSQL in `cache_pg`) keyed by sha256 of the request."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import json
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import psycopg
from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from telemetry.logging import get_logger

if TYPE_CHECKING:
    from gateway.cache_pg import PgResponseCache

log = get_logger("conductor.gateway")

MAX_PENDING_CACHE_ENTRIES = 10_000
"""Answers kept in memory awaiting their gate's verdict; beyond this the oldest is dropped."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    agent TEXT NOT NULL,
    output TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedResponse:
    """A stored answer: the structured output as JSON and where it came from."""

    key: str
    endpoint: str
    model: str
    output_json: str
    input_tokens: int
    output_tokens: int


def first_hit(rows: Mapping[str, Any], keys: Sequence[str]) -> CachedResponse | None:
    """The answer of the first of `keys` among `rows` (key, endpoint, model, output, tokens)."""
    for key in keys:
        row = rows.get(key)
        if row is not None:
            return CachedResponse(
                key=row[0],
                endpoint=row[1],
                model=row[2],
                output_json=row[3],
                input_tokens=int(row[4]),
                output_tokens=int(row[5]),
            )
    return None


def cache_key(
    endpoint: str, model: str, messages: Sequence[BaseMessage], schema: type[BaseModel]
) -> str:
    """Return the sha256 hex key of one request to one endpoint."""
    document = {
        "endpoint": endpoint,
        "model": model,
        "messages": [{"type": m.type, "name": m.name, "content": m.content} for m in messages],
        "schema": schema_json(schema),
    }
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=256)
def schema_json(schema: type[BaseModel]) -> str:
    """The JSON schema of `schema`, canonically encoded (computed once per class)."""
    return json.dumps(schema.model_json_schema(), sort_keys=True, separators=(",", ":"))


class ResponseCache:
    """An SQLite table of answers, opened on first use (off the event loop's thread)."""

    def __init__(self, path: Path | str) -> None:
        """Use the database at `path` (its folder is created when missing)."""
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._opening: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def get(self, keys: Sequence[str]) -> CachedResponse | None:
        """Return the answer stored under the first of `keys` that has one."""
        if not keys:
            return None
        conn = await self._connection()
        placeholders = ",".join("?" for _ in keys)
        found = await conn.execute_fetchall(  # one hop to the connection's thread, not three
            "SELECT key, endpoint, model, output, input_tokens, output_tokens "
            f"FROM responses WHERE key IN ({placeholders})",
            tuple(keys),
        )
        return first_hit({row[0]: row for row in found}, keys)

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
            "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        )  # autocommit: one hop to the connection's thread

    async def aclose(self) -> None:
        """Close the connection (reopened on the next use)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        # One lock per event loop: the CLI runs a fresh loop per command on one cache.
        loop = asyncio.get_running_loop()
        if self._opening is None or self._opening[0] is not loop:
            self._opening = (loop, asyncio.Lock())
        async with self._opening[1]:
            if self._conn is None:
                await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
                # Autocommit, and no fsync per write: a cache that loses its last answers
                # in a power cut only asks the model again.
                conn = await aiosqlite.connect(self.path, timeout=5.0, isolation_level=None)
                await conn.execute("PRAGMA journal_mode=WAL")
                await conn.execute("PRAGMA synchronous=NORMAL")
                await conn.execute(_SCHEMA)
                self._conn = conn
        return self._conn


CACHE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error, OSError)
"""What a cache that cannot be read or written raises (logged by `GatedCache`, never raised)."""


def open_response_cache(
    path: Path | str, database_url: str | None = None
) -> ResponseCache | PgResponseCache:
    """The response cache in PostgreSQL when `database_url` is given, else in SQLite at `path`."""
    if database_url:
        from gateway.cache_pg import PgResponseCache  # psycopg's async side, only when used

        return PgResponseCache(database_url)
    return ResponseCache(path)


@dataclass(frozen=True)
class _Pending:
    """A fresh answer waiting for its gate before it may enter the response cache."""

    key: str
    agent: str
    endpoint: str
    model: str
    output_json: str
    usage: dict[str, int]


class GatedCache:
    """The response cache as the gateway uses it: an answer enters only once its gate passed.

    A fresh answer is held pending under a token (unique per answer) until `confirm`
    writes it or `discard` forgets it; a cache that cannot be read or written is logged,
    never raised.
    """

    def __init__(self, path: Path | str, *, database_url: str | None = None) -> None:
        """Use the cache at `database_url` (PostgreSQL) when given, else the SQLite file at `path`.

        Either is opened on first use.
        """
        self.store = open_response_cache(path, database_url)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._seq = itertools.count(1)

    async def lookup(self, keys: Sequence[str]) -> CachedResponse | None:
        """The stored answer under the first of `keys` that has one (None on a cache error)."""
        try:
            return await self.store.get(keys)
        except CACHE_ERRORS as exc:
            log.warning("cache_unavailable", path=str(self.store.path), error=str(exc))
            return None

    def hold(
        self,
        key: str,
        *,
        agent: str,
        endpoint: str,
        model: str,
        output: BaseModel,
        usage: dict[str, int],
    ) -> str:
        """Keep an answer pending for the cache; return its token."""
        token = f"{key}:{next(self._seq)}"
        self._pending[token] = _Pending(
            key=key,
            agent=agent,
            endpoint=endpoint,
            model=model,
            output_json=output.model_dump_json(),
            usage=dict(usage),
        )
        while len(self._pending) > MAX_PENDING_CACHE_ENTRIES:
            self._pending.popitem(last=False)
        return token

    async def confirm(self, token: str) -> None:
        """Write the pending answer of `token`, then forget it; an unknown token is a no-op."""
        entry = self._pending.pop(token, None)
        if entry is None:
            return
        try:
            await self.store.put(
                entry.key,
                endpoint=entry.endpoint,
                model=entry.model,
                agent=entry.agent,
                output_json=entry.output_json,
                usage=entry.usage,
            )
        except CACHE_ERRORS as exc:
            log.warning("cache_unavailable", path=str(self.store.path), error=str(exc))

    def discard(self, token: str) -> None:
        """Forget the pending answer of `token`; an unknown token is a no-op."""
        self._pending.pop(token, None)

    async def aclose(self) -> None:
        """Close the database (reopened on the next use)."""
        await self.store.aclose()
