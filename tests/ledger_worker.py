"""One refund of ORD-10001 through a store's API: light to import, for tests that spawn workers."""

from __future__ import annotations

from typing import Any

from store.errors import AlreadyRefunded
from store.pg import PgStore


def refund(store: Any, key: str = "T-001:ORD-10001", **overrides: Any) -> Any:
    """Refund ORD-10001 (35.00 USD, customer C001, ticket T-001) under `key`; `overrides` win."""
    kwargs: dict[str, Any] = dict(
        idempotency_key=key,
        ticket_id="T-001",
        order_id="ORD-10001",
        customer_id="C001",
        amount=35.00,
        currency="USD",
    )
    kwargs.update(overrides)
    return store.issue_refund(**kwargs)


def issue_in_process(url: str, key: str, barrier: Any, results: Any) -> None:
    """Open the store at `url`, wait for the others, refund ORD-10001 under `key`."""
    with PgStore(url) as store:
        barrier.wait()
        try:
            _, created = refund(store, key)
        except AlreadyRefunded:
            results.put("refused")
        else:
            results.put(created)
