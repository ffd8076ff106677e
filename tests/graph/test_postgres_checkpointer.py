"""Durable runs on Postgres (DATABASE_URL): an escalated run survives its process and resumes."""

from __future__ import annotations

from typing import Any

from langgraph.types import Command

from conductor_cli.checkpoints import open_checkpointer
from store.db import Store

LARGE_REFUND = {
    "ticket_id": "PG-1",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "email",
}


async def _state(url: str, payload: Any, thread: str, resources: Any) -> Any:
    from graphs.support import make_builder

    config = {"configurable": {"thread_id": thread}}
    async with open_checkpointer(database_url=url) as saver:
        graph = make_builder(resources).compile(checkpointer=saver, name="support")
        await graph.ainvoke(payload, config)
        return await graph.aget_state(config)


async def test_escalated_run_resumes_from_postgres(
    postgres_url: str, store: Store, resources: Any
) -> None:
    first = await _state(postgres_url, {"ticket": LARGE_REFUND}, "pg-thread", resources)
    assert first.values["status"] == "escalated"
    assert first.interrupts[0].value["reason"] == "refund_above_auto_limit"

    # A new connection, as another process would open: the run continues from Postgres.
    done = await _state(
        postgres_url, Command(resume={"decision": "approve"}), "pg-thread", resources
    )
    assert done.values["status"] == "resolved"
    assert done.values["refund"]["amount"] == 120.0
    assert store.count_refunds() == 1
