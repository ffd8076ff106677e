"""Whole runs of the documents graph on the in-process simulated endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphs.documents import DOCUMENTS
from nodes.resources import Resources
from nodes.router import plan_for
from state.documents import DocumentsContext
from store.db import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    doc["document_id"]: doc
    for doc in map(json.loads, (ROOT / "examples" / "documents.jsonl").read_text().splitlines())
}


@pytest.fixture
def docs(resources: Resources) -> Any:
    from graphs.documents import make_builder

    return make_builder(resources).compile(checkpointer=InMemorySaver(), name="documents")


async def run(graph: Any, payload: Any, thread: str, **kwargs: Any) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    await graph.ainvoke(payload, config, **kwargs)
    snapshot = await graph.aget_state(config)
    return {"values": snapshot.values, "interrupts": snapshot.interrupts}


def spans_hold(doc: dict[str, Any], entities: list[dict[str, Any]]) -> bool:
    return all(doc["text"][e["start"] : e["end"]] == e["text"] for e in entities)


async def test_an_invoice_is_classified_extracted_and_stored_once(docs: Any, store: Store) -> None:
    doc = EXAMPLES["doc-inv-001"]
    values = (await run(docs, {"document": doc}, "inv"))["values"]
    assert values["status"] == "resolved"
    assert values["doc_type"] == "invoice"
    assert values["entities"] and spans_hold(doc, values["entities"])
    kinds = {e["kind"] for e in values["entities"]}
    assert {"organization", "date", "amount", "identifier"} <= kinds
    assert values["stored"]["created"] is True
    assert values["stored"]["idempotency_key"].startswith("extraction:doc-inv-001:")
    assert store.count_extractions() == 1

    again = (await run(docs, {"document": doc}, "inv-again"))["values"]
    assert again["stored"]["created"] is False, "the same document is stored once"
    assert store.count_extractions() == 1


async def test_a_legal_contract_waits_for_a_reviewer_then_is_stored(
    docs: Any, store: Store
) -> None:
    doc = EXAMPLES["doc-ctr-002"]
    first = await run(docs, {"document": doc}, "ctr")
    assert first["values"]["status"] == "escalated"
    (pending,) = first["interrupts"]
    packet = pending.value
    assert packet["kind"] == "review" and packet["reason"] == "legal_contract"
    assert packet["proposed"]["doc_type"] == "legal_contract"
    assert spans_hold(doc, packet["proposed"]["entities"])
    assert first["values"]["doc_type"] == "legal_contract", "readable while waiting"
    assert store.count_extractions() == 0

    done = await run(docs, Command(resume={"decision": "approve"}), "ctr")
    assert done["values"]["status"] == "resolved"
    assert done["values"]["review_outcome"] == "approved"
    assert store.count_extractions() == 1


async def test_a_correction_is_gated_like_an_agents_output(docs: Any, store: Store) -> None:
    doc = EXAMPLES["doc-ctr-001"]
    await run(docs, {"document": doc}, "fix")
    invented = {"kind": "person", "text": "Nobody Here", "start": 0, "end": 11}
    bad = await run(docs, Command(resume={"decision": "correct", "entities": [invented]}), "fix")
    assert bad["values"]["status"] == "escalated"
    assert "entities[0]" in bad["interrupts"][0].value["error"]
    assert store.count_extractions() == 0

    first_word = doc["text"].split()[0]
    real = {"kind": "organization", "text": first_word, "start": 0, "end": len(first_word)}
    good = await run(
        docs,
        Command(resume={"decision": "correct", "doc_type": "other", "entities": [real]}),
        "fix",
    )
    values = good["values"]
    assert values["status"] == "resolved" and values["review_outcome"] == "corrected"
    assert values["doc_type"] == "other" and values["entities"] == [
        {**real, "currency": None, "value": None, "role": None}
    ]
    assert store.count_extractions() == 1


async def test_a_rejected_extraction_is_denied_and_not_stored(docs: Any, store: Store) -> None:
    await run(docs, {"document": EXAMPLES["doc-ctr-002"]}, "no")
    done = (await run(docs, Command(resume={"decision": "reject"}), "no"))["values"]
    assert done["status"] == "denied"
    assert done["stored"] is None and store.count_extractions() == 0


async def test_a_long_document_is_chunked_never_truncated(docs: Any) -> None:
    doc = EXAMPLES["doc-msa-long"]
    assert len(doc["text"]) > DocumentsContext().chunk_chars
    result = await run(docs, {"document": doc}, "long")
    values = result["values"]
    chunked = [p for p in values["plan"].values() if p["subtask"] == "entities"]
    assert len(chunked) == 2
    covered = sorted(
        (p["item"]["offset"], p["item"]["offset"] + p["item"]["length"]) for p in chunked
    )
    assert covered[0][0] == 0 and covered[-1][1] == len(doc["text"])
    assert covered[0][1] > covered[1][0], "neighbouring chunks overlap"
    entities = result["interrupts"][0].value["proposed"]["entities"]
    assert spans_hold(doc, entities)
    assert any(e["start"] >= covered[1][0] + DocumentsContext().chunk_overlap for e in entities)
    assert len({(e["kind"], e["start"], e["end"]) for e in entities}) == len(entities)


async def test_chunk_size_is_a_run_setting(docs: Any) -> None:
    doc = EXAMPLES["doc-inv-001"]
    small = DocumentsContext(chunk_chars=200, chunk_overlap=40)
    values = (await run(docs, {"document": doc}, "small-chunks", context=small))["values"]
    assert len([p for p in values["plan"].values() if p["subtask"] == "entities"]) == 4
    assert spans_hold(doc, values["entities"])
    plan = plan_for({"document": doc}, DOCUMENTS, DOCUMENTS.limits(small))
    assert sum(1 for p in plan.values() if p["subtask"] == "relations") == 4


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"document_id": "d", "text": "   \n "}, "document.text"),
        ({"document_id": "d", "text": "\x00\x01binary\x02"}, "document.text"),
        ({"text": "hello"}, "document.document_id"),
        ({"document_id": "d", "text": "x", "surprise": 1}, "document.surprise"),
        ("just a string", "document must be a JSON object"),
    ],
)
async def test_bad_documents_are_rejected_at_intake(
    docs: Any, store: Store, bad: Any, field: str
) -> None:
    values = (await run(docs, {"document": bad}, f"bad-{field}"))["values"]
    assert values["status"] == "rejected"
    assert field in values["errors"][0]["message"]
    assert not values.get("plan") and store.count_extractions() == 0


async def test_every_example_accounts_for_itself_with_exact_spans(docs: Any) -> None:
    for doc_id, doc in EXAMPLES.items():
        values = (await run(docs, {"document": doc}, f"ex-{doc_id}"))["values"]
        assert values["status"] in ("resolved", "escalated"), (doc_id, values.get("errors"))
        assert spans_hold(doc, values.get("entities") or []), doc_id
