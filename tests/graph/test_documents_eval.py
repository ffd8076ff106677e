"""`conductor eval documents`: labelled documents through the documents graph, scored offline."""

from __future__ import annotations

from typing import Any

import pytest

from evals.documents_eval import DocumentsSettings, run_documents_eval
from evals.documents_scores import (
    entity_precision,
    entity_recall,
    needs_review_recall,
    relationship_recall,
    span_mismatches,
    spans_exact,
)

TEXT = "Invoice INV-7 from Acme Oy, total $12.00"
LABELS = {
    "entities": [
        {"kind": "identifier", "text": "INV-7", "start": 8, "end": 13},
        {"kind": "organization", "text": "Acme Oy", "start": 19, "end": 26},
    ],
    "relationships": [{"kind": "pays", "source": "Acme Oy", "target": "$12.00"}],
    "needs_review": False,
}


def test_entity_scores_need_the_kind_and_the_exact_span() -> None:
    shifted = {**LABELS["entities"][1], "start": 18, "end": 25, "text": " Acme O"}
    outputs: dict[str, Any] = {"entities": [LABELS["entities"][0], shifted]}
    assert entity_precision(outputs, LABELS)["score"] == 0.5
    assert entity_recall(outputs, LABELS)["score"] == 0.5
    assert span_mismatches(TEXT, outputs["entities"]) == 0, "its text is the text at its span"
    wrong_text = {**LABELS["entities"][1], "text": "Acme Ltd"}
    assert span_mismatches(TEXT, [LABELS["entities"][0], wrong_text]) == 1
    assert spans_exact({"span_mismatches": 1}, LABELS)["score"] == 0
    assert relationship_recall({"relationships": []}, LABELS)["score"] == 0.0


def test_needs_review_recall_only_counts_documents_labelled_for_review() -> None:
    assert needs_review_recall({"needs_review": False}, LABELS)["score"] is None
    flagged = {**LABELS, "needs_review": True}
    assert needs_review_recall({"needs_review": True}, flagged)["score"] == 1
    assert needs_review_recall({"needs_review": False}, flagged)["score"] == 0


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_documents_run_through_the_graph_and_escalations_are_reviews() -> None:
    on = await run_documents_eval(DocumentsSettings(limit=24, concurrency=4))
    assert len(on.rows) == 24 and on.statuses["failed"] == 0
    rows = {r["document_id"]: r for r in on.rows}
    for contract in ("gen-0059", "gen-0068"):  # the legal contracts among the first 24
        assert rows[contract]["status"] == "escalated", "an interrupt is a needs-review outcome"
        assert rows[contract]["escalation_reason"] == "legal_contract"
        assert rows[contract]["scores"]["needs_review_recall"] == 1
    assert on.span_mismatches == 0, "the entity gate lets no span through that differs"
    assert on.scores["doc_type_match"] > 0.5 and on.scores["entity_precision"] > 0.5
    assert on.metadata["endpoint"] == "SIMULATED"

    off = await run_documents_eval(DocumentsSettings(limit=24, concurrency=4, gates=False))
    assert off.span_mismatches > 0, "without gates the simulated span errors reach the output"
    assert off.scores["spans_exact"] < 1.0
