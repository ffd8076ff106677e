"""Unit tests of the local store, its seed data, the example tickets and their ground truth."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from ledger_worker import refund
from pydantic import ValidationError

from evals.build_examples_truth import LABELS, build_truth
from state.schemas import Intent, RefundReasonCode, Ticket
from store import (
    AlreadyRefunded,
    AmountExceedsTotal,
    CurrencyMismatch,
    IdempotencyConflict,
    NotOrderOwner,
    Store,
    UnknownOrder,
    seed_store,
)
from store.db import ORDER_STATUSES, from_cents, to_cents
from store.seed import CUSTOMER_NAMES, PINNED_ORDERS, UNKNOWN_ORDER_ID

ROOT = Path(__file__).resolve().parents[2]
TICKETS = ROOT / "examples" / "tickets.jsonl"
TRUTH = ROOT / "evals" / "datasets" / "support_examples.jsonl"
TODAY = date(2025, 6, 15)
ORDER_ID = re.compile(r"\bORD-\d{5}\b")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    seed_store(path, today=TODAY)
    return path


@pytest.fixture
def store(db_path: Path):
    with Store(db_path) as opened:
        yield opened


def _dump(path: Path) -> tuple[list[Any], list[Any]]:
    conn = sqlite3.connect(path)
    try:
        customers = conn.execute("SELECT * FROM customers ORDER BY customer_id").fetchall()
        orders = conn.execute("SELECT * FROM orders ORDER BY order_id").fetchall()
    finally:
        conn.close()
    return customers, orders


# -- seed -----------------------------------------------------------------------------------


def test_seed_counts(tmp_path: Path) -> None:
    counts = seed_store(tmp_path / "s.db", today=TODAY)
    assert counts["customers"] >= 50
    assert counts["orders"] >= 200
    assert counts["refunds"] == 0


def test_seed_is_deterministic(tmp_path: Path) -> None:
    seed_store(tmp_path / "a.db", today=TODAY)
    seed_store(tmp_path / "b.db", today=TODAY)
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")


def test_other_seed_changes_random_orders_only(tmp_path: Path) -> None:
    seed_store(tmp_path / "a.db", today=TODAY, seed=7)
    seed_store(tmp_path / "b.db", today=TODAY, seed=8)
    (customers_a, orders_a), (customers_b, orders_b) = (
        _dump(tmp_path / "a.db"),
        _dump(tmp_path / "b.db"),
    )
    assert customers_a == customers_b
    pinned = len(PINNED_ORDERS)
    assert orders_a[:pinned] == orders_b[:pinned]
    assert orders_a[pinned:] != orders_b[pinned:]


def test_seed_is_realistic(store: Store) -> None:
    orders = [store.get_order(f"ORD-{n}") for n in range(10001, 10001 + store.count_orders())]
    assert all(order is not None for order in orders)
    statuses = [o["status"] for o in orders if o]
    assert set(statuses) == set(ORDER_STATUSES)
    assert max(set(statuses), key=statuses.count) == "delivered"
    currencies = [o["currency"] for o in orders if o]
    assert {"USD", "EUR", "GBP"} <= set(currencies)
    assert currencies.count("USD") > len(currencies) / 2
    for order in orders:
        assert order is not None
        assert 5.0 <= order["total"] <= 900.0
        assert order["total"] == round(order["total"], 2)
        age = (TODAY - date.fromisoformat(order["ordered_at"])).days
        assert 1 <= age <= 200
    assert len({o["item"] for o in orders if o}) > 30
    customer = store.get_customer("C060")
    assert customer is not None and customer["name"] == CUSTOMER_NAMES[59]
    assert "@" in customer["email"]
    assert store.get_customer("C061") is None


def test_reseed_upserts_and_keeps_the_ledger(db_path: Path) -> None:
    with Store(db_path) as store:
        refund(store)
    later = TODAY + timedelta(days=3)
    counts = seed_store(db_path, today=later)
    assert counts["refunds"] == 1
    with Store(db_path) as store:
        order = store.get_order("ORD-10001")
        assert order is not None
        assert order["ordered_at"] == (later - timedelta(days=10)).isoformat()
        assert store.count_orders() == counts["orders"]


@pytest.mark.parametrize("pinned", PINNED_ORDERS, ids=lambda p: p.order_id)
def test_pinned_fixture(store: Store, pinned) -> None:
    order = store.get_order(pinned.order_id)
    assert order == {
        "order_id": pinned.order_id,
        "customer_id": pinned.customer_id,
        "status": pinned.status,
        "total": pinned.total,
        "currency": pinned.currency,
        "item": pinned.item,
        "ordered_at": (TODAY - timedelta(days=pinned.age_days)).isoformat(),
    }
    assert store.get_customer(pinned.customer_id) is not None


def test_pinned_fixtures_cover_the_documented_cases() -> None:
    by_id = {p.order_id: p for p in PINNED_ORDERS}
    assert [p.order_id for p in PINNED_ORDERS] == [f"ORD-{n}" for n in range(10001, 10031)]
    first = by_id["ORD-10001"]
    assert (first.customer_id, first.status, first.total, first.currency, first.age_days) == (
        "C001",
        "delivered",
        35.00,
        "USD",
        10,
    )
    assert by_id["ORD-10002"].total == 120.00 and by_id["ORD-10002"].status == "delivered"
    assert by_id["ORD-10005"].age_days > 90
    assert by_id["ORD-10012"].customer_id == "C002"
    statuses = {p.status for p in PINNED_ORDERS}
    assert {"damaged", "lost", "processing", "cancelled", "shipped", "returned"} <= statuses
    assert {"EUR", "GBP"} <= {p.currency for p in PINNED_ORDERS}
    assert UNKNOWN_ORDER_ID not in by_id


def test_orders_for_customer(store: Store) -> None:
    orders = store.orders_for_customer("C001")
    ids = [o["order_id"] for o in orders]
    assert {"ORD-10001", "ORD-10029", "ORD-10030"} <= set(ids)
    assert all(o["customer_id"] == "C001" for o in orders)
    dates = [o["ordered_at"] for o in orders]
    assert dates == sorted(dates, reverse=True)
    assert store.orders_for_customer("C999") == []


def test_money_is_cents() -> None:
    assert to_cents(0.1 + 0.2) == 30
    assert to_cents(39.95) == 3995
    assert to_cents("50.005") == 5001
    assert from_cents(5001) == 50.01
    with pytest.raises(ValueError):
        to_cents(float("nan"))


# -- ledger ---------------------------------------------------------------------------------


def test_same_key_twice_writes_one_row(store: Store) -> None:
    first, created = refund(store)
    again, created_again = refund(store)
    assert created is True and created_again is False
    assert again == first
    assert first["amount"] == 35.00 and first["currency"] == "USD"
    assert store.count_refunds() == 1
    assert store.refunds_for_order("ORD-10001") == [first]
    assert store.all_refunds() == [first]


def test_new_key_for_refunded_order_raises(store: Store) -> None:
    refund(store)
    with pytest.raises(AlreadyRefunded) as info:
        refund(store, key="T-011:ORD-10001", ticket_id="T-011", amount=1.00)
    assert info.value.order_id == "ORD-10001"
    assert store.count_refunds() == 1


@pytest.mark.parametrize("amount", [0, 0.0, -5.0, 0.004])
def test_non_positive_amount_raises(store: Store, amount: float) -> None:
    with pytest.raises(ValueError):
        refund(store, amount=amount)
    assert store.count_refunds() == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"order_id": UNKNOWN_ORDER_ID}, UnknownOrder),
        ({"customer_id": "C003"}, NotOrderOwner),
        ({"currency": "EUR"}, CurrencyMismatch),
        ({"amount": 35.01}, AmountExceedsTotal),
    ],
)
def test_ledger_refuses_implausible_refunds(store: Store, overrides, error) -> None:
    with pytest.raises(error):
        refund(store, **overrides)
    assert store.count_refunds() == 0


def test_key_reused_for_another_order_raises(store: Store) -> None:
    refund(store)
    with pytest.raises(IdempotencyConflict):
        refund(store, order_id="ORD-10029", amount=5.00)
    assert store.count_refunds() == 1


def test_same_key_from_eight_threads_writes_one_row(store: Store) -> None:
    barrier = threading.Barrier(8)

    def issue(_: int) -> bool:
        barrier.wait()
        return refund(store)[1]

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(issue, range(8)))
    assert created.count(True) == 1
    assert store.count_refunds() == 1


def test_different_keys_from_threads_refund_an_order_once(store: Store) -> None:
    barrier = threading.Barrier(8)

    def issue(n: int) -> str:
        barrier.wait()
        try:
            refund(store, key=f"T-{n}:ORD-10001", ticket_id=f"T-{n}")
        except AlreadyRefunded:
            return "refused"
        return "issued"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(issue, range(8)))
    assert outcomes.count("issued") == 1
    assert store.count_refunds() == 1


def _issue_in_process(path: str, barrier, results) -> None:
    with Store(path) as store:
        barrier.wait()
        _, created = refund(store)
        results.put(created)


def test_same_key_from_two_processes_writes_one_row(db_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_issue_in_process, args=(str(db_path), barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    created = sorted(results.get(timeout=5) for _ in workers)
    assert created == [False, True]
    with Store(db_path) as store:
        assert store.count_refunds() == 1


def test_store_is_wal_and_closes(db_path: Path) -> None:
    store = Store(db_path)
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.get_order("ORD-10001")


# -- runs -----------------------------------------------------------------------------------


def test_runs_upsert_and_list(store: Store) -> None:
    store.upsert_run("th-1", "support", "T-001", "running")
    store.upsert_run("th-2", "documents", "D-001", "running")
    store.upsert_run("th-1", "support", "T-001", "escalated", {"reason": "legal_threat"})
    store.upsert_run("th-1", "support", "T-001", "escalated")
    runs = store.list_runs()
    assert [r["thread_id"] for r in runs] == ["th-1", "th-2"]
    first = runs[0]
    assert first["status"] == "escalated"
    assert first["detail"] == {"reason": "legal_threat"}
    assert first["updated_at"] >= first["created_at"]
    assert [r["thread_id"] for r in store.list_runs(graph="support")] == ["th-1"]
    assert [r["thread_id"] for r in store.list_runs(status="running")] == ["th-2"]
    assert store.list_runs(graph="support", status="running") == []
    assert store.get_run("th-2") == runs[1]
    assert store.get_run("nope") is None


# -- examples and ground truth --------------------------------------------------------------


def _ticket_lines() -> list[str]:
    return TICKETS.read_text(encoding="utf-8").splitlines()


def _truth() -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in TRUTH.read_text(encoding="utf-8").splitlines()]
    return {record["ticket_id"]: record for record in records}


def test_example_tickets_validate_except_the_last() -> None:
    lines = _ticket_lines()
    assert len(lines) >= 33
    for line in lines[:-1]:
        Ticket.model_validate_json(line)
    with pytest.raises(ValidationError):
        Ticket.model_validate_json(lines[-1])
    ids = [json.loads(line)["ticket_id"] for line in lines]
    assert ids == [f"T-{n:03d}" for n in range(1, len(lines) + 1)]


def test_truth_matches_the_tickets_and_the_generator() -> None:
    truth = _truth()
    lines = _ticket_lines()
    assert list(truth) == [json.loads(line)["ticket_id"] for line in lines]
    assert set(truth) == set(LABELS)
    assert list(truth.values()) == build_truth(lines)
    intents, reasons = set(Intent.__args__), set(RefundReasonCode.__args__)
    for record in truth.values():
        assert record["expected_intent"] in intents
        assert record["expected_reason_code"] in reasons | {None}
        assert record["expected_status"] in {"resolved", "escalated", "rejected"}
        assert record["expected_escalation_reason"] in {
            None,
            "refund_above_auto_limit",
            "legal_threat",
            "low_confidence",
        }
        assert (record["expected_status"] == "escalated") == (
            record["expected_escalation_reason"] is not None
        )
        assert (record["expected_refund"] is None) == (record["expected_currency"] is None)
    assert [r["expected_status"] for r in truth.values()].count("rejected") == 1
    escalations = {r["expected_escalation_reason"] for r in truth.values()}
    assert {"refund_above_auto_limit", "legal_threat", "low_confidence"} <= escalations


def test_example_order_ids_exist_unless_meant_unknown(store: Store) -> None:
    truth = _truth()
    for line in _ticket_lines():
        raw = json.loads(line)
        record = truth[raw["ticket_id"]]
        for order_id in ORDER_ID.findall(f"{raw['subject']}\n{raw['body']}"):
            assert order_id == record["expected_order_id"], raw["ticket_id"]
            if record["expected_reason_code"] == "no_order":
                assert store.get_order(order_id) is None, raw["ticket_id"]
            else:
                assert store.get_order(order_id) is not None, raw["ticket_id"]
