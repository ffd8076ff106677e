"""The documents graph through `langgraph dev` and langgraph-sdk: review, correction, re-ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = next(
    doc
    for doc in map(json.loads, (ROOT / "examples" / "documents.jsonl").read_text().splitlines())
    if doc["document_id"] == "doc-ctr-002"
)


def interrupts_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]


async def test_a_contract_interrupts_and_a_correction_resumes_it(dev_server: str) -> None:
    client = get_client(url=dev_server)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "documents", input={"document": CONTRACT})

    state = await client.threads.get_state(tid)
    assert state["values"]["status"] == "escalated"
    (pending,) = interrupts_of(state)
    assert pending["value"]["reason"] == "legal_contract"
    proposed = pending["value"]["proposed"]
    assert proposed["doc_type"] == "legal_contract"
    text = CONTRACT["text"]
    assert all(text[e["start"] : e["end"]] == e["text"] for e in proposed["entities"])

    invented = {"kind": "person", "text": "Invented Person", "start": 3, "end": 18}
    await client.runs.wait(
        tid,
        "documents",
        command={"resume": {"decision": "correct", "entities": [invented]}},
    )
    state = await client.threads.get_state(tid)
    (again,) = interrupts_of(state)
    assert "entities[0]" in again["value"]["error"], "an invalid correction is asked again"

    keep = proposed["entities"][:3]
    done = await client.runs.wait(
        tid,
        "documents",
        command={"resume": {"decision": "correct", "entities": keep}},
    )
    assert done["status"] == "resolved"
    assert done["review_outcome"] == "corrected"
    assert [e["text"] for e in done["entities"]] == [e["text"] for e in keep]
    assert done["stored"]["created"] is True
