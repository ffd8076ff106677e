"""An evaluation runs one customer's tickets one after another, other customers in parallel."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from evals.ordering import one_customer_at_a_time


async def test_a_customers_tickets_run_in_the_order_started() -> None:
    events: list[str] = []

    async def target(inputs: Mapping[str, Any]) -> dict[str, Any]:
        ticket = inputs["ticket"]
        events.append(f"start {ticket['ticket_id']}")
        # The first ticket is the slow one: unordered, the follow-up would finish first.
        await asyncio.sleep(0.05 if ticket["ticket_id"] == "T-010" else 0)
        events.append(f"end {ticket['ticket_id']}")
        return {"ticket_id": ticket["ticket_id"]}

    ordered = one_customer_at_a_time(target)
    tickets = [
        {"ticket_id": "T-010", "customer_id": "C010"},
        {"ticket_id": "T-011", "customer_id": "C010"},
        {"ticket_id": "T-020", "customer_id": "C020"},
        {"ticket_id": "T-BAD"},
    ]
    outs = await asyncio.gather(*(ordered({"ticket": t}) for t in tickets))

    assert [o["ticket_id"] for o in outs] == ["T-010", "T-011", "T-020", "T-BAD"]
    # C010's follow-up starts only once its first ticket ended ...
    assert events.index("start T-011") > events.index("end T-010")
    # ... while another customer's ticket, and one without a customer, did not wait for it.
    assert events.index("end T-020") < events.index("end T-010")
    assert events.index("end T-BAD") < events.index("end T-010")
