"""A process that issues one refund: light to import, for tests that spawn workers."""

from __future__ import annotations

from typing import Any

from store.errors import AlreadyRefunded
from store.pg import PgStore


def issue_in_process(url: str, key: str, barrier: Any, results: Any) -> None:
    """Open the store at `url`, wait for the others, refund ORD-10001 under `key`."""
    with PgStore(url) as store:
        barrier.wait()
        try:
            _, created = store.issue_refund(
                idempotency_key=key,
                ticket_id="T-001",
                order_id="ORD-10001",
                customer_id="C001",
                amount=35.00,
                currency="USD",
            )
        except AlreadyRefunded:
            results.put("refused")
        else:
            results.put(created)
