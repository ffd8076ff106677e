"""The store, the ledger, the response cache and a whole ticket on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from langgraph.types import Command
from ledger_worker import issue_in_process, refund

from conductor_cli.checkpoints import open_checkpointer
from gateway.cache import GatedCache
from gateway.cache_pg import PgResponseCache
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from nodes.resources import Resources, _open_store_from_env
from simulator.engine import Simulator
from simulator.transport import simulator_transports
from store import (
    AlreadyRefunded,
    AmountExceedsTotal,
    CurrencyMismatch,
    IdempotencyConflict,
    NotOrderOwner,
    Store,
    UnknownOrder,
    open_store,
    seed_store,
    store_from_env,
)
from store.pg import PgStore
from store.seed import PINNED_ORDERS, UNKNOWN_ORDER_ID

pytestmark = pytest.mark.slow

TODAY = date(2025, 6, 15)


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A freshly seeded store's location: an SQLite file or a PostgreSQL database URL."""
    where: str | Path = (
        tmp_path / "store.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    seed_store(where, today=TODAY)
    return where


@pytest.fixture
def store(target: str | Path) -> Iterator[Store]:
    with open_store(target) as opened:
        yield opened


# -- the same behaviours on both backends ---------------------------------------------------


def test_factory_picks_the_backend(store: Store, target: str | Path) -> None:
    assert isinstance(store, PgStore) == isinstance(target, str)


def test_seed_and_reads(store: Store) -> None:
    assert store.count_customers() == 60 and store.count_orders() == 250
    for pinned in PINNED_ORDERS:
        assert store.get_order(pinned.order_id) == {
            "order_id": pinned.order_id,
            "customer_id": pinned.customer_id,
            "status": pinned.status,
            "total": pinned.total,
            "currency": pinned.currency,
            "item": pinned.item,
            "ordered_at": (TODAY - timedelta(days=pinned.age_days)).isoformat(),
        }
    assert store.get_order(UNKNOWN_ORDER_ID) is None
    customer = store.get_customer("C001")
    assert customer is not None and customer["name"] == "Maria Gonzalez"
    assert store.get_customer("C999") is None
    ids = [o["order_id"] for o in store.orders_for_customer("C001")]
    assert {"ORD-10001", "ORD-10029", "ORD-10030"} <= set(ids)
    assert store.orders_for_customer("C999") == []


def test_both_backends_hold_the_same_seed(store: Store, tmp_path: Path) -> None:
    reference = tmp_path / "reference.db"
    seed_store(reference, today=TODAY)
    with Store(reference) as sqlite_store:
        for n in range(10001, 10251):
            assert store.get_order(f"ORD-{n}") == sqlite_store.get_order(f"ORD-{n}")
        assert store.orders_for_customer("C002") == sqlite_store.orders_for_customer("C002")


def test_same_key_twice_writes_one_row(store: Store) -> None:
    first, created = refund(store)
    again, created_again = refund(store)
    assert (created, created_again) == (True, False)
    assert again == first and first["amount"] == 35.00
    assert store.count_refunds() == 1
    assert store.refunds_for_order("ORD-10001") == [first]
    assert store.all_refunds() == [first]


def test_money_stays_in_cents(store: Store) -> None:
    issued, _ = refund(
        store, key="T-015:ORD-10015", order_id="ORD-10015", customer_id="C015", amount=50.01
    )
    assert issued["amount"] == 50.01
    with pytest.raises(AmountExceedsTotal):
        refund(store, key="T-014", order_id="ORD-10014", customer_id="C014", amount=50.005)


def test_refusals(store: Store) -> None:
    refund(store)
    with pytest.raises(AlreadyRefunded):
        refund(store, key="T-011:ORD-10001", ticket_id="T-011", amount=1.00)
    with pytest.raises(IdempotencyConflict):
        refund(store, order_id="ORD-10029", amount=5.00)
    for overrides, error in [
        ({"order_id": UNKNOWN_ORDER_ID}, UnknownOrder),
        ({"order_id": "ORD-10029", "customer_id": "C003"}, NotOrderOwner),
        ({"order_id": "ORD-10029", "currency": "EUR"}, CurrencyMismatch),
        ({"order_id": "ORD-10029", "amount": 22.41}, AmountExceedsTotal),
    ]:
        with pytest.raises(error):
            refund(store, key="other", **overrides)
    with pytest.raises(ValueError):
        refund(store, key="zero", amount=0)
    assert store.count_refunds() == 1


def test_same_key_from_eight_threads_writes_one_row(store: Store) -> None:
    barrier = threading.Barrier(8)

    def issue(_: int) -> bool:
        barrier.wait()
        return bool(refund(store)[1])

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(issue, range(8)))
    assert created.count(True) == 1
    assert store.count_refunds() == 1


def test_an_extraction_is_stored_once_per_key(store: Store) -> None:
    payload = {"doc_type": "invoice", "entities": [{"kind": "date", "text": "2026-03-01"}]}
    first, created = store.store_extraction("extraction:D-1:abc", "D-1", "abc", payload)
    again, created_again = store.store_extraction("extraction:D-1:abc", "D-1", "abc", {})
    assert (created, created_again) == (True, False)
    assert again == first and again["payload"] == payload
    assert store.count_extractions() == 1


def test_runs_upsert_and_list(store: Store) -> None:
    store.upsert_run("th-1", "support", "T-001", "running")
    store.upsert_run("th-2", "documents", "D-001", "running")
    store.upsert_run("th-1", "support", "T-001", "escalated", {"reason": "legal_threat"})
    store.upsert_run("th-1", "support", "T-001", "escalated")
    runs = store.list_runs()
    assert [r["thread_id"] for r in runs] == ["th-1", "th-2"]
    assert runs[0]["status"] == "escalated" and runs[0]["detail"] == {"reason": "legal_threat"}
    assert runs[0]["updated_at"] >= runs[0]["created_at"]
    assert [r["thread_id"] for r in store.list_runs(graph="support")] == ["th-1"]
    assert [r["thread_id"] for r in store.list_runs(status="running")] == ["th-2"]
    assert store.get_run("th-2") == runs[1] and store.get_run("nope") is None
    assert store.graph_of_run("th-2") == "documents" and store.graph_of_run("nope") is None


def test_reseed_keeps_the_ledger(store: Store, target: str | Path) -> None:
    refund(store)
    counts = seed_store(target, today=TODAY + timedelta(days=3))
    assert counts == {"customers": 60, "orders": 250, "refunds": 1}


# -- Postgres only --------------------------------------------------------------------------


@pytest.mark.parametrize("same_key", [True, False], ids=["same-key", "other-keys"])
def test_two_processes_write_one_row(postgres_url: str, same_key: bool) -> None:
    seed_store(postgres_url, today=TODAY)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(
            target=issue_in_process,
            args=(postgres_url, "K" if same_key else f"K{n}", barrier, results),
        )
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    outcomes = sorted(str(results.get(timeout=5)) for _ in workers)
    assert outcomes == (["False", "True"] if same_key else ["True", "refused"])
    with PgStore(postgres_url) as store:
        assert store.count_refunds() == 1


def test_schema_setup_twice_is_harmless(postgres_url: str) -> None:
    def open_and_close(_: int) -> int:
        with PgStore(postgres_url) as store:
            return store.schema_version()

    with ThreadPoolExecutor(max_workers=6) as pool:  # concurrent set-ups, separate connections
        assert list(pool.map(open_and_close, range(6))) == [1] * 6
    first = seed_store(postgres_url, today=TODAY)
    with PgStore(postgres_url) as store:
        refund(store)
    with PgStore(postgres_url) as store:
        assert store.schema_version() == 1
        assert store.count_refunds() == 1
    assert seed_store(postgres_url, today=TODAY) == {**first, "refunds": 1}
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM conductor_schema").fetchone() == (1,)


def test_closed_store_raises(postgres_url: str) -> None:
    store = PgStore(postgres_url)
    store.close()
    store.close()
    with pytest.raises(psycopg.Error):
        store.get_order("ORD-10001")


async def test_response_cache_in_postgres(postgres_url: str) -> None:
    cache = PgResponseCache(postgres_url)
    assert await cache.get(["k1"]) is None
    usage = {"input_tokens": 3, "output_tokens": 4}
    await cache.put("k1", endpoint="e", model="m", agent="a", output_json="{}", usage=usage)
    await cache.put("k1", endpoint="e", model="m", agent="a", output_json='{"x":1}', usage=usage)
    await cache.aclose()
    again = PgResponseCache(postgres_url)  # a second set-up on the same table
    hit = await again.get(["nope", "k1"])
    assert hit is not None and hit.output_json == '{"x":1}' and hit.output_tokens == 4
    await again.aclose()


async def test_unreachable_cache_is_logged_not_raised() -> None:
    gated = GatedCache("unused.db", database_url="postgresql://nobody@127.0.0.1:9/none")
    assert await gated.lookup(["k"]) is None


# -- a whole ticket with every table in Postgres --------------------------------------------

LARGE_REFUND = {
    "ticket_id": "PG-E2E",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "email",
}
SMALL_REFUND = {
    "ticket_id": "PG-E2E-2",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "My order ORD-10001 is too small. Please refund the $35.00.",
    "channel": "email",
}


async def test_support_ticket_end_to_end_in_postgres(
    postgres_url: str, sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphs.support import make_builder

    monkeypatch.chdir(tmp_path)  # every SQLite default (var/...) would land here
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.delenv("CONDUCTOR_DB", raising=False)
    seed_store(postgres_url)
    settings = GatewaySettings.from_env({"DATABASE_URL": postgres_url})
    assert settings.cache_database_url == postgres_url and settings.cache_enabled

    def gateway() -> ModelGateway:
        return ModelGateway.from_settings(settings, transports=simulator_transports(settings, sim))

    resources = Resources(gateway_factory=gateway, store_factory=_open_store_from_env)
    try:
        async with open_checkpointer() as saver:  # DATABASE_URL picks AsyncPostgresSaver
            graph = make_builder(resources).compile(checkpointer=saver, name="support")
            config = {"configurable": {"thread_id": "pg-e2e"}}
            await graph.ainvoke({"ticket": LARGE_REFUND}, config)
            assert (await graph.aget_state(config)).values["status"] == "escalated"
            await graph.ainvoke(Command(resume={"decision": "approve"}), config)
            done = (await graph.aget_state(config)).values
            assert done["status"] == "resolved" and done["refund"]["amount"] == 120.0
            small = {"configurable": {"thread_id": "pg-e2e-2"}}
            await graph.ainvoke({"ticket": SMALL_REFUND}, small)
            assert (await graph.aget_state(small)).values["status"] == "resolved"
    finally:
        await resources.aclose()
        resources.store.close()

    assert isinstance(resources.store, PgStore)
    with store_from_env() as store:
        assert isinstance(store, PgStore)
        assert [r["order_id"] for r in store.all_refunds()] == ["ORD-10002", "ORD-10001"]
    with psycopg.connect(postgres_url) as conn:
        threads = conn.execute("SELECT DISTINCT thread_id FROM checkpoints ORDER BY 1").fetchall()
        assert threads == [("pg-e2e",), ("pg-e2e-2",)]
        assert conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0] > 0
    assert list(tmp_path.rglob("*.db")) == [] and not (tmp_path / "var").exists()
