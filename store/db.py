"""The local SQLite store: customers, orders, the idempotent refund ledger and CLI runs."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from state.money import from_cents, to_cents
from state.schemas import CustomerFacts, OrderFacts, RefundFacts
from store.errors import (
    AlreadyRefunded,
    AmountExceedsTotal,
    CurrencyMismatch,
    IdempotencyConflict,
    NotOrderOwner,
    UnknownOrder,
)

SCHEMA_VERSION = 1
"""Stored in `PRAGMA user_version`; bump it with a migration when the tables change."""

ORDER_STATUSES: tuple[str, ...] = (
    "processing",
    "shipped",
    "delivered",
    "damaged",
    "lost",
    "cancelled",
    "returned",
)
"""Every status an order may have."""

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
"""Currencies the shop sells in."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(customer_id),
    status      TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in ORDER_STATUSES)})),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    currency    TEXT NOT NULL CHECK (currency IN ({", ".join(repr(c) for c in CURRENCIES)})),
    item        TEXT NOT NULL,
    ordered_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, ordered_at);
CREATE TABLE IF NOT EXISTS refunds (
    idempotency_key TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL UNIQUE REFERENCES orders(order_id),
    ticket_id       TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    amount_cents    INTEGER NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    issued_at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS extractions (
    idempotency_key TEXT PRIMARY KEY,
    document_id     TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    payload         TEXT NOT NULL,
    stored_at       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    thread_id  TEXT PRIMARY KEY,
    graph      TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    status     TEXT NOT NULL,
    detail     TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_graph_status ON runs (graph, status);
"""

_ORDER_COLUMNS = "order_id, customer_id, status, total_cents, currency, item, ordered_at"
_REFUND_COLUMNS = "idempotency_key, order_id, ticket_id, amount_cents, currency, issued_at"
_RUN_COLUMNS = "thread_id, graph, item_id, status, detail, created_at, updated_at"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _order(row: sqlite3.Row) -> OrderFacts:
    return OrderFacts(
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        status=row["status"],
        total=from_cents(row["total_cents"]),
        currency=row["currency"],
        item=row["item"],
        ordered_at=row["ordered_at"],
    )


def _refund(row: sqlite3.Row) -> RefundFacts:
    return RefundFacts(
        idempotency_key=row["idempotency_key"],
        order_id=row["order_id"],
        ticket_id=row["ticket_id"],
        amount=from_cents(row["amount_cents"]),
        currency=row["currency"],
        issued_at=row["issued_at"],
    )


def _run(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    run["detail"] = json.loads(run["detail"]) if run["detail"] is not None else None
    return run


class Store:
    """Customers, orders, the refund ledger and CLI runs in one SQLite file.

    One connection guarded by a lock, so the store may be shared by threads (for example
    sync tools run by asyncio in a thread pool). Several processes may open the same file:
    WAL mode lets readers run beside one writer, and every write is an `IMMEDIATE`
    transaction that waits (up to `timeout` seconds) for the file's write lock.

    Example:
        >>> with Store("var/store.db") as store:
        ...     store.get_order("ORD-10001")
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        """Open (and create when missing) the store at `path`.

        Args:
            path: The SQLite file; its parent directory is created. `":memory:"` works for
                single-connection tests.
            timeout: Seconds a write waits for another process's write lock.
        """
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._create_schema()

    def _create_schema(self) -> None:
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one IMMEDIATE transaction, holding the thread lock."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- customers and orders -------------------------------------------------------------

    def upsert_customers(self, customers: Iterable[CustomerFacts]) -> int:
        """Insert customers or update the ones already stored.

        Args:
            customers: Customer records.

        Returns:
            How many records were written.
        """
        rows = [(c["customer_id"], c["name"], c["email"]) for c in customers]
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO customers (customer_id, name, email) VALUES (?, ?, ?) "
                "ON CONFLICT (customer_id) DO UPDATE SET name = excluded.name, "
                "email = excluded.email",
                rows,
            )
        return len(rows)

    def upsert_orders(self, orders: Iterable[OrderFacts]) -> int:
        """Insert orders or update the ones already stored (their customers must exist).

        Args:
            orders: Order records; `total` in currency units, `ordered_at` an ISO date.

        Returns:
            How many records were written.

        Raises:
            ValueError: On a status or currency the store does not know.
        """
        rows = []
        for o in orders:
            if o["status"] not in ORDER_STATUSES:
                raise ValueError(f"order {o['order_id']}: unknown status {o['status']!r}")
            if o["currency"] not in CURRENCIES:
                raise ValueError(f"order {o['order_id']}: unknown currency {o['currency']!r}")
            rows.append(
                (
                    o["order_id"],
                    o["customer_id"],
                    o["status"],
                    to_cents(o["total"]),
                    o["currency"],
                    o["item"],
                    o["ordered_at"],
                )
            )
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, "
                "status = excluded.status, total_cents = excluded.total_cents, "
                "currency = excluded.currency, item = excluded.item, "
                "ordered_at = excluded.ordered_at",
                rows,
            )
        return len(rows)

    def get_customer(self, customer_id: str) -> CustomerFacts | None:
        """Return the customer, or None when the id is unknown."""
        rows = self._read(
            "SELECT customer_id, name, email FROM customers WHERE customer_id = ?", (customer_id,)
        )
        if not rows:
            return None
        row = rows[0]
        return CustomerFacts(customer_id=row["customer_id"], name=row["name"], email=row["email"])

    def get_order(self, order_id: str) -> OrderFacts | None:
        """Return the order, or None when the id is unknown."""
        rows = self._read(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ?", (order_id,))
        return _order(rows[0]) if rows else None

    def orders_for_customer(self, customer_id: str) -> list[OrderFacts]:
        """Return the customer's orders, newest first."""
        rows = self._read(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE customer_id = ? "
            "ORDER BY ordered_at DESC, order_id",
            (customer_id,),
        )
        return [_order(row) for row in rows]

    def count_customers(self) -> int:
        """Return how many customers are stored."""
        return int(self._read("SELECT COUNT(*) FROM customers")[0][0])

    def count_orders(self) -> int:
        """Return how many orders are stored."""
        return int(self._read("SELECT COUNT(*) FROM orders")[0][0])

    # -- the refund ledger ----------------------------------------------------------------

    def refunds_for_order(self, order_id: str) -> list[RefundFacts]:
        """Return the refunds already issued for the order (at most one)."""
        rows = self._read(
            f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE order_id = ? ORDER BY issued_at",
            (order_id,),
        )
        return [_refund(row) for row in rows]

    def issue_refund(
        self,
        *,
        idempotency_key: str,
        ticket_id: str,
        order_id: str,
        customer_id: str,
        amount: float,
        currency: str,
    ) -> tuple[RefundFacts, bool]:
        """Write a refund to the ledger exactly once per idempotency key and per order.

        The insert relies on the table's constraints (the key is the primary key, the
        order id is unique) inside one IMMEDIATE transaction, so concurrent calls from
        threads or processes with the same key leave exactly one row.

        Args:
            idempotency_key: Key of this side effect; a retry must pass the same key.
            ticket_id: The ticket the refund answers.
            order_id: The refunded order.
            customer_id: The customer asking; must own the order.
            amount: Amount in the order's currency; rounded to cents.
            currency: Must equal the order's currency.

        Returns:
            The refund in the ledger and True when this call wrote it, or the refund written
            earlier under the same key and False.

        Raises:
            ValueError: When the amount is not a positive number of cents.
            UnknownOrder: When the order does not exist.
            NotOrderOwner: When the order belongs to another customer.
            CurrencyMismatch: When the currency is not the order's.
            AmountExceedsTotal: When the amount is above the order total.
            AlreadyRefunded: When the order was refunded under another key.
            IdempotencyConflict: When the key was used for another order.
        """
        cents = to_cents(amount)
        if cents <= 0:
            raise ValueError(f"refund amount must be positive, got {amount!r}")
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
            if row is None:
                raise UnknownOrder(order_id)
            if row["customer_id"] != customer_id:
                raise NotOrderOwner(order_id, customer_id)
            if row["currency"] != currency:
                raise CurrencyMismatch(order_id, currency, row["currency"])
            if cents > row["total_cents"]:
                raise AmountExceedsTotal(
                    order_id, from_cents(cents), from_cents(row["total_cents"])
                )
            inserted = conn.execute(
                f"INSERT INTO refunds ({_REFUND_COLUMNS}, customer_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (idempotency_key, order_id, ticket_id, cents, currency, _now(), customer_id),
            ).rowcount
            ledger = conn.execute(
                f"SELECT {_REFUND_COLUMNS} FROM refunds WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
        if ledger is None:  # the conflict was on order_id: another key refunded this order
            raise AlreadyRefunded(order_id)
        if ledger["order_id"] != order_id:
            raise IdempotencyConflict(idempotency_key, order_id, ledger["order_id"])
        return _refund(ledger), inserted == 1

    def count_refunds(self) -> int:
        """Return how many refunds the ledger holds."""
        return int(self._read("SELECT COUNT(*) FROM refunds")[0][0])

    def all_refunds(self) -> list[RefundFacts]:
        """Return every refund in the ledger, oldest first."""
        rows = self._read(f"SELECT {_REFUND_COLUMNS} FROM refunds ORDER BY issued_at, order_id")
        return [_refund(row) for row in rows]

    # -- CLI runs -------------------------------------------------------------------------

    def upsert_run(
        self,
        thread_id: str,
        graph: str,
        item_id: str,
        status: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a run or update its status.

        Args:
            thread_id: The run's checkpointer thread id (primary key).
            graph: The graph's name, e.g. "support".
            item_id: The ticket or document id the run processes.
            status: The run's status, e.g. "running", "escalated", "resolved".
            detail: JSON-serialisable detail; None keeps the detail already stored.
        """
        now = _now()
        payload = json.dumps(detail, sort_keys=True, default=str) if detail is not None else None
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (thread_id) DO UPDATE SET graph = excluded.graph, "
                "item_id = excluded.item_id, status = excluded.status, "
                "detail = COALESCE(excluded.detail, runs.detail), "
                "updated_at = excluded.updated_at",
                (thread_id, graph, item_id, status, payload, now, now),
            )

    def get_run(self, thread_id: str) -> dict[str, Any] | None:
        """Return the run recorded under `thread_id`, or None."""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE thread_id = ?", (thread_id,))
        return _run(rows[0]) if rows else None

    def list_runs(
        self, graph: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Return recorded runs, oldest first, optionally filtered.

        Args:
            graph: Only runs of this graph.
            status: Only runs with this status.

        Returns:
            Dicts with thread_id, graph, item_id, status, detail (dict or None), created_at
            and updated_at.
        """
        clauses, params = [], []
        if graph is not None:
            clauses.append("graph = ?")
            params.append(graph)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs {where}ORDER BY created_at, thread_id", params
        )
        return [_run(row) for row in rows]

    def graph_of_run(self, thread_id: str) -> str | None:
        """The graph a recorded run belongs to, or None for a thread never recorded."""
        rows = self._read("SELECT graph FROM runs WHERE thread_id = ?", [thread_id])
        return str(rows[0][0]) if rows else None

    def store_extraction(
        self, idempotency_key: str, document_id: str, content_hash: str, payload: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Store a document's accepted extraction once per key (document id + content hash).

        Returns:
            The stored record (the first one written under the key) and whether this call
            wrote it; a second call with the same key writes nothing.
        """
        stored_at = datetime.now(UTC).isoformat()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO extractions (idempotency_key, document_id, content_hash, payload, "
                "stored_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                (idempotency_key, document_id, content_hash, json.dumps(payload), stored_at),
            )
            created = cursor.rowcount == 1
            row = conn.execute(
                "SELECT idempotency_key, document_id, content_hash, payload, stored_at "
                "FROM extractions WHERE idempotency_key = ?",
                (idempotency_key,),
            ).fetchone()
        record = {
            "idempotency_key": row[0],
            "document_id": row[1],
            "content_hash": row[2],
            "payload": json.loads(row[3]),
            "stored_at": row[4],
        }
        return record, created

    def count_extractions(self) -> int:
        """How many extractions the store holds."""
        return int(self._read("SELECT COUNT(*) FROM extractions")[0][0])
