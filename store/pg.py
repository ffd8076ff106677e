"""The store in PostgreSQL (`DATABASE_URL`): the same tables, methods and semantics as SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from store.db import CURRENCIES, ORDER_STATUSES, SCHEMA_VERSION, Store

_TEXT = 'TEXT COLLATE "C"'  # byte order, as SQLite sorts: list_runs and all_refunds agree

_SCHEMA: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS customers (
    customer_id {_TEXT} PRIMARY KEY,
    name        {_TEXT} NOT NULL,
    email       {_TEXT} NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS orders (
    order_id    {_TEXT} PRIMARY KEY,
    customer_id {_TEXT} NOT NULL REFERENCES customers(customer_id),
    status      {_TEXT} NOT NULL
        CHECK (status IN ({", ".join(repr(s) for s in ORDER_STATUSES)})),
    total_cents BIGINT NOT NULL CHECK (total_cents >= 0),
    currency    {_TEXT} NOT NULL CHECK (currency IN ({", ".join(repr(c) for c in CURRENCIES)})),
    item        {_TEXT} NOT NULL,
    ordered_at  {_TEXT} NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, ordered_at)",
    f"""CREATE TABLE IF NOT EXISTS refunds (
    idempotency_key {_TEXT} PRIMARY KEY,
    order_id        {_TEXT} NOT NULL UNIQUE REFERENCES orders(order_id),
    ticket_id       {_TEXT} NOT NULL,
    customer_id     {_TEXT} NOT NULL,
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        {_TEXT} NOT NULL,
    issued_at       {_TEXT} NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS extractions (
    idempotency_key {_TEXT} PRIMARY KEY,
    document_id     {_TEXT} NOT NULL,
    content_hash    {_TEXT} NOT NULL,
    payload         {_TEXT} NOT NULL,
    stored_at       {_TEXT} NOT NULL
)""",
    f"""CREATE TABLE IF NOT EXISTS runs (
    thread_id  {_TEXT} PRIMARY KEY,
    graph      {_TEXT} NOT NULL,
    item_id    {_TEXT} NOT NULL,
    status     {_TEXT} NOT NULL,
    detail     {_TEXT},
    created_at {_TEXT} NOT NULL,
    updated_at {_TEXT} NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS runs_by_graph_status ON runs (graph, status)",
    "CREATE TABLE IF NOT EXISTS conductor_schema (version INTEGER NOT NULL)",
)
_SCHEMA_LOCK = 0x436F6E64  # pg_advisory_xact_lock key: concurrent set-ups run one at a time


class _Row(dict[str, Any]):
    """A row readable by column name and by position, as `sqlite3.Row` is."""

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        super().__init__(zip(names, values, strict=True))
        self._values = tuple(values)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return super().__getitem__(key)


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[_Row]:
    names = [column.name for column in cursor.description or ()]

    def make(values: Sequence[Any]) -> _Row:
        return _Row(names, values)

    return make


def _postgres_sql(sql: str) -> str:
    """The store's SQLite statement with Postgres placeholders (`?` becomes `%s`)."""
    return sql.replace("?", "%s")


class _Transaction:
    """The connection as `Store`'s methods use it inside a write: `execute`, `executemany`."""

    def __init__(self, conn: psycopg.Connection[_Row]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[_Row]:
        return self._conn.execute(_postgres_sql(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_postgres_sql(sql), [tuple(row) for row in rows])  # type: ignore[arg-type]


class PgStore(Store):
    """Customers, orders, the refund ledger and CLI runs in a PostgreSQL database.

    Every public method is `Store`'s (same SQL, same results, same errors); only the
    connection differs. One connection guarded by a lock, shared by threads; several
    processes may open the same database. A write is one READ COMMITTED transaction: a
    second insert of the same idempotency key waits for the first to commit, then finds
    its row, so concurrent callers leave exactly one ledger row. The schema is created on
    open, idempotently (under an advisory lock, so concurrent openers do not race).

    Example:
        >>> with PgStore("postgresql://localhost/conductor") as store:
        ...     store.get_order("ORD-10001")
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:  # noqa: D417
        """Connect to the database at `url` and set up the schema when missing.

        Args:
            url: A PostgreSQL URL (`postgresql://user@host:port/db`).
            timeout: Seconds to wait for the connection.
        """
        self.path = url
        self.url = url
        self._lock = threading.Lock()
        self._pg: psycopg.Connection[_Row] = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, int(timeout)), row_factory=_row_factory
        )
        self._create_schema()

    def _create_schema(self) -> None:
        with self._write() as conn:
            conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            for statement in _SCHEMA:
                conn.execute(statement)
            if conn.execute("SELECT version FROM conductor_schema").fetchone() is None:
                conn.execute("INSERT INTO conductor_schema (version) VALUES (?)", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return int(self._read("SELECT MAX(version) FROM conductor_schema")[0][0])

    @contextmanager
    def _write(self) -> Iterator[_Transaction]:  # type: ignore[override]
        """Run the block in one transaction, holding the thread lock."""
        with self._lock, self._pg.transaction():
            yield _Transaction(self._pg)

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[_Row]:  # type: ignore[override]
        with self._lock:
            return self._pg.execute(_postgres_sql(sql), tuple(params)).fetchall()  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        with self._lock:
            self._pg.close()
