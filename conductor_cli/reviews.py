"""Pending human reviews and parked runs: list them, resume them."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from store.db import Store


async def pending_interrupts(graph: CompiledStateGraph, thread_id: str) -> list[dict[str, Any]]:
    """The interrupts a thread waits on (each `{"id", "value"}`), read from its checkpoint."""
    snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    return [{"id": i.id, "value": i.value} for i in snapshot.interrupts]


async def list_waiting(graph: CompiledStateGraph, store: Store, kind: str) -> list[dict[str, Any]]:
    """Runs waiting on a reviewer (`kind="review"`) or on providers (`kind="parked"`)."""
    status = "escalated" if kind == "review" else "parked"
    rows = await asyncio.to_thread(store.list_runs, "support", status)
    waiting = []
    for row in rows:
        for pending in await pending_interrupts(graph, row["thread_id"]):
            if pending["value"].get("kind") == kind:
                waiting.append({**row, "interrupt_id": pending["id"], "packet": pending["value"]})
    return waiting


async def resume_thread(
    graph: CompiledStateGraph, store: Store, thread_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Resume one thread with `payload`; return its state afterwards (values and interrupts).

    Raises:
        LookupError: When the thread waits on nothing.
    """
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "max_concurrency": 8}
    pending = await pending_interrupts(graph, thread_id)
    if not pending:
        raise LookupError(f"thread {thread_id} has no pending interrupt to resume")
    await graph.ainvoke(Command(resume={pending[0]["id"]: payload}), config)
    snapshot = await graph.aget_state(config)
    values = dict(snapshot.values or {})
    status = values.get("status") or "failed"
    ticket_id = values.get("ticket_id") or ""
    await asyncio.to_thread(
        store.upsert_run,
        thread_id,
        "support",
        ticket_id,
        status,
        {"escalation_reason": values.get("escalation_reason")},
    )
    return {
        "values": values,
        "interrupts": [{"id": i.id, "value": i.value} for i in snapshot.interrupts],
    }
