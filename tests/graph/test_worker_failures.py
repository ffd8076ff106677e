"""A worker that crashes is a failed attempt, never a run that stops half-way."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.gateway import ModelGateway
from store.db import Store

SMALL_REFUND = {
    "ticket_id": "W-1",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "My order ORD-10001 is too small. Please refund the $35.00.",
    "channel": "email",
}


@pytest.mark.parametrize("agent", ["classify_intent", "decide_refund", "draft_reply"])
async def test_a_crashing_worker_is_retried(
    graph: Any, store: Store, gateway: ModelGateway, monkeypatch: pytest.MonkeyPatch, agent: str
) -> None:
    real = gateway.invoke_structured
    crashes: list[str] = []

    async def crash_once(**kwargs: Any) -> Any:
        if kwargs["agent"] == agent and not crashes:
            crashes.append(agent)
            raise RuntimeError("worker bug")
        return await real(**kwargs)

    monkeypatch.setattr(gateway, "invoke_structured", crash_once)
    config = {"configurable": {"thread_id": f"crash-{agent}"}}
    await graph.ainvoke({"ticket": SMALL_REFUND}, config)
    values = (await graph.aget_state(config)).values
    assert crashes == [agent]
    assert values["status"] == "resolved", values.get("errors")
    assert any(e["message"] == "RuntimeError: worker bug" for e in values["errors"])
    assert store.count_refunds() == 1


async def test_a_provider_that_always_refuses_escalates_within_the_retry_budget(
    graph: Any, store: Store, gateway: ModelGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt longer than the model's context is refused on every try: no endless loop."""
    from gateway.errors import ProviderRejected

    calls: list[str] = []

    async def refuse(**kwargs: Any) -> Any:
        calls.append(kwargs["agent"])
        raise ProviderRejected(
            kwargs["agent"],
            "local-small",
            "http://127.0.0.1:9/v1",
            status=400,
            detail='{"error":{"message":"This model\'s maximum context length is 2048 tokens"}}',
        )

    monkeypatch.setattr(gateway, "invoke_structured", refuse)
    config = {"configurable": {"thread_id": "always-refused"}, "recursion_limit": 200}
    await graph.ainvoke({"ticket": SMALL_REFUND}, config)
    values = (await graph.aget_state(config)).values
    assert values["status"] == "escalated"
    assert values["escalation_reason"] == "retry_budget_exhausted"
    assert len(calls) <= 2 * 3  # classify and extract, three attempts each at most
    assert any("maximum context length" in e["message"] for e in values["errors"])
    assert store.count_refunds() == 0


def graph_with_guard(resources: Any, agent: str, budget_s: float) -> Any:
    """The support graph with `agent`'s node guard at `NODE_GUARD_FACTOR` × `budget_s`."""
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.build import build_graph
    from graphs.support import SUPPORT, ticket_id_of

    builder = build_graph(SUPPORT, resources, opened=ticket_id_of, agent_budgets={agent: budget_s})
    return builder.compile(checkpointer=InMemorySaver())


async def test_a_hung_worker_is_cut_by_its_node_guard_and_retried(
    resources: Any, store: Store, gateway: ModelGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = gateway.invoke_structured
    hangs: list[str] = []

    async def hang_once(**kwargs: Any) -> Any:
        if kwargs["agent"] == "classify_intent" and not hangs:
            hangs.append("classify_intent")
            await asyncio.sleep(30)
        return await real(**kwargs)

    monkeypatch.setattr(gateway, "invoke_structured", hang_once)
    graph = graph_with_guard(resources, "classify_intent", 0.2)  # guard 0.3 s
    config = {"configurable": {"thread_id": "hung-worker"}}
    await graph.ainvoke({"ticket": SMALL_REFUND}, config)
    values = (await graph.aget_state(config)).values
    assert hangs == ["classify_intent"]
    assert values["status"] == "resolved", values.get("errors")
    assert any("NodeGuardTimeout" in e["message"] for e in values["errors"])


async def test_a_worker_waiting_in_the_admission_queue_is_not_cut(
    resources: Any, store: Store, gateway: ModelGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our own queue is not the node's time: a wait longer than the guard passes."""
    from gateway.looptime import queued

    real = gateway.invoke_structured

    async def queue_then_call(**kwargs: Any) -> Any:
        if kwargs["agent"] == "classify_intent":
            with queued():
                await asyncio.sleep(1.5)  # five times the guard, waiting for a permit
        return await real(**kwargs)

    monkeypatch.setattr(gateway, "invoke_structured", queue_then_call)
    graph = graph_with_guard(resources, "classify_intent", 0.2)  # guard 0.3 s
    config = {"configurable": {"thread_id": "queued-worker"}}
    await graph.ainvoke({"ticket": SMALL_REFUND}, config)
    values = (await graph.aget_state(config)).values
    assert values["status"] == "resolved", values.get("errors")
    assert not values.get("errors")
