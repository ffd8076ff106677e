"""End to end through the LangGraph dev server and langgraph-sdk: what Studio and API users see."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client

pytestmark = pytest.mark.server

LARGE_REFUND = {
    "ticket_id": "S-1",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "web",
}
QUESTION = {
    "ticket_id": "S-2",
    "customer_id": "C008",
    "subject": "Where is it?",
    "body": "Where is my order ORD-10008? Tracking has not moved.",
    "channel": "chat",
}


def interrupts_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]


async def test_interrupt_state_history_and_resume(dev_server: str) -> None:
    client = get_client(url=dev_server)
    assistants = await client.assistants.search(graph_id="support")
    assert assistants, "the server serves the support graph"
    thread = await client.threads.create()
    tid = thread["thread_id"]

    await client.runs.wait(tid, "support", input={"ticket": LARGE_REFUND})
    state = await client.threads.get_state(tid)
    assert state["values"]["status"] == "escalated"
    assert state["next"] == ["escalate_to_human"]
    (pending,) = interrupts_of(state)
    assert pending["value"]["reason"] == "refund_above_auto_limit"
    assert pending["value"]["proposed_refund"]["amount"] == 120.0

    history = await client.threads.get_history(tid, limit=100)
    steps = [h["metadata"].get("step") for h in history]
    assert len(history) >= 6 and steps == sorted(steps, reverse=True)
    versions = [h["values"].get("version", 0) for h in history]
    assert versions == sorted(versions, reverse=True)

    await client.runs.wait(tid, "support", command={"resume": {"decision": "maybe"}})
    refused = await client.threads.get_state(tid)
    assert "resume.decision" in interrupts_of(refused)[0]["value"]["error"]

    final = await client.runs.wait(tid, "support", command={"resume": {"decision": "approve"}})
    assert final["status"] == "resolved"
    assert final["refund"]["issued"] is True and final["refund"]["amount"] == 120.0


async def test_streams_node_updates(dev_server: str) -> None:
    client = get_client(url=dev_server)
    nodes: list[str] = []
    async for part in client.runs.stream(
        None, "support", input={"ticket": QUESTION}, stream_mode="updates"
    ):
        if part.event == "updates" and isinstance(part.data, dict):
            nodes.extend(part.data)
    assert nodes[0] == "accept_input"
    # Intake routes itself: the classifier and the extractor start in the next step.
    assert set(nodes[1:3]) == {"classify_intent", "extract_entities"}
    assert {"classify_intent", "extract_entities", "gather_context", "draft_reply"} <= set(nodes)
    assert nodes[-1] == "finalize_run"
