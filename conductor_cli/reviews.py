"""Pending human reviews and parked runs: list them, resume them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from conductor_cli.durable import RUN_DURABILITY
from store.db import Store

WAITING_STATUS = {"review": "escalated", "parked": "parked"}
"""The run status the store records for a run waiting on each kind of interrupt."""


class UnknownThreadError(LookupError):
    """The checkpointer has no thread of that id."""


class NotWaitingError(LookupError):
    """The thread exists but waits on no interrupt of the kind asked for."""


async def pending_interrupts(graph: CompiledStateGraph, thread_id: str) -> list[dict[str, Any]]:
    """The interrupts a thread waits on (each `{"id", "value"}`), read from its checkpoint.

    Raises:
        UnknownThreadError: When the checkpointer has no such thread.
    """
    snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    if snapshot.created_at is None and not snapshot.values:
        raise UnknownThreadError(f"unknown thread {thread_id}")
    return [{"id": i.id, "value": i.value} for i in snapshot.interrupts]


def _kind(value: Any) -> Any:
    return value.get("kind") if isinstance(value, dict) else None


async def list_waiting(
    graphs: Mapping[str, CompiledStateGraph], store: Store, kind: str
) -> list[dict[str, Any]]:
    """Runs waiting on a reviewer (`kind="review"`) or on providers (`kind="parked"`).

    Runs the store still records as "running" are looked at too: a batch killed after a run
    reached its interrupt but before its final status was written leaves them so.
    """
    rows: list[dict[str, Any]] = []
    for name in graphs:
        for status in (WAITING_STATUS[kind], "running"):
            rows += await asyncio.to_thread(store.list_runs, name, status)
    waiting = []
    for row in rows:
        try:
            pending = await pending_interrupts(graphs[row["graph"]], row["thread_id"])
        except UnknownThreadError:
            continue  # recorded, but never checkpointed (killed before its first step)
        for interrupt in pending:
            if _kind(interrupt["value"]) == kind:
                waiting.append(
                    {**row, "interrupt_id": interrupt["id"], "packet": interrupt["value"]}
                )
    return waiting


def overdue(
    waiting: list[dict[str, Any]], *, hours: float, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The waiting runs whose last update is older than `hours` (oldest first)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(hours=hours)
    late = [row for row in waiting if datetime.fromisoformat(row["updated_at"]) < cutoff]
    return sorted(late, key=lambda row: row["updated_at"])


def _wrong_kind_message(thread_id: str, wanted: str, found: set[Any]) -> str:
    if wanted == "review" and "parked" in found:
        return (
            f"thread {thread_id} is parked (waiting on providers), not on a review; "
            "use `conductor resume --parked`"
        )
    if wanted == "parked" and "review" in found:
        return (
            f"thread {thread_id} waits on a review, not on providers; "
            f"use `conductor resume {thread_id} --decision ...`"
        )
    kinds = ", ".join(sorted(str(k) for k in found))
    return f"thread {thread_id} waits on {kinds}, not on {wanted}"


async def resume_thread(
    graphs: Mapping[str, CompiledStateGraph],
    store: Store,
    thread_id: str,
    payload: dict[str, Any],
    *,
    kind: str,
    callbacks: list[Any] | None = None,
) -> dict[str, Any]:
    """Resume a thread's pending interrupt of `kind` ("review" or "parked") with `payload`.

    The run is recorded `running` while it resumes (so that `conductor recover` finishes it
    if this process dies midway) and runs with the CLI's durability (`RUN_DURABILITY`).

    Returns:
        The thread's state afterwards: `{"values", "interrupts"}`.

    Raises:
        UnknownThreadError: When there is no such thread.
        NotWaitingError: When the thread waits on nothing, or on another kind of interrupt
            (the message says which, and which command resumes it).
    """
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "max_concurrency": 8}
    if callbacks:
        config["callbacks"] = list(callbacks)
    name = await asyncio.to_thread(store.graph_of_run, thread_id)
    if name is None or name not in graphs:
        raise UnknownThreadError(f"unknown thread {thread_id}")
    graph = graphs[name]
    pending = await pending_interrupts(graph, thread_id)
    if not pending:
        raise NotWaitingError(f"thread {thread_id} has no pending interrupt to resume")
    matching = [p for p in pending if _kind(p["value"]) == kind]
    if not matching:
        raise NotWaitingError(
            _wrong_kind_message(thread_id, kind, {_kind(p["value"]) for p in pending})
        )
    run = await asyncio.to_thread(store.get_run, thread_id) or {}
    detail = dict(run.get("detail") or {})
    await asyncio.to_thread(
        store.upsert_run, thread_id, name, run.get("item_id") or "", "running", detail
    )
    await graph.ainvoke(
        Command(resume={matching[0]["id"]: payload}), config, durability=RUN_DURABILITY
    )
    snapshot = await graph.aget_state(config)
    values = dict(snapshot.values or {})
    status = values.get("status") or "failed"
    item_id = values.get("ticket_id") or values.get("document_id") or run.get("item_id") or ""
    detail["escalation_reason"] = values.get("escalation_reason")
    await asyncio.to_thread(store.upsert_run, thread_id, name, item_id, status, detail)
    return {
        "values": values,
        "interrupts": [{"id": i.id, "value": i.value} for i in snapshot.interrupts],
    }
