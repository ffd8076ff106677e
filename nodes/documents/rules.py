"""The documents workflow's rules: chunk fan-out, triggers, the merged extraction, the output."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from nodes.documents.chunks import chunk_items, merge_entities, merge_relationships
from nodes.documents.prompts import settings_of
from nodes.spec import Limits, State
from state.documents import Entity
from validators.documents import check_invoice_total

REVIEWED_TYPES = frozenset({"legal_contract"})
"""Document types a human always reviews before the extraction is stored."""


def chunks(state: State, limits: Limits) -> Sequence[dict[str, Any]]:
    """The fan-out of the extraction subtasks: one item per chunk of the document."""
    settings = settings_of(limits)
    return chunk_items(state["document"]["text"], settings.chunk_chars, settings.chunk_overlap)


def classification(state: State) -> dict[str, Any] | None:
    """The gated classification (None until it passed)."""
    found: dict[str, Any] | None = (state.get("results") or {}).get("classify")
    return found


def extraction(state: State) -> dict[str, Any]:
    """The extraction as it stands: type, merged entities (whole-document spans), relationships.

    A reviewer's correction replaces what it names.
    """
    results = state.get("results") or {}
    plan = state.get("plan") or {}
    per_chunk_entities: list[tuple[int, list[dict[str, Any]]]] = []
    per_chunk_relations: list[list[dict[str, Any]]] = []
    for iid, planned in plan.items():
        result = results.get(iid)
        if result is None:
            continue
        offset = int((planned.get("item") or {}).get("offset", 0))
        if planned["subtask"] == "entities":
            per_chunk_entities.append((offset, result["entities"]))
        elif planned["subtask"] == "relations":
            per_chunk_relations.append(result["relationships"])
    found = classification(state) or {}
    merged = {
        "doc_type": found.get("doc_type"),
        "confidence": found.get("confidence"),
        "entities": merge_entities(per_chunk_entities),
        "relationships": merge_relationships(per_chunk_relations),
    }
    review = state.get("review") or {}
    if review.get("decision") == "correct":
        for key in ("doc_type", "entities", "relationships"):
            if review.get(key) is not None:
                merged[key] = review[key]
    return merged


def legal_contract(state: State, limits: Limits) -> str | None:
    """A human reviews every legal contract's extraction."""
    found = classification(state)
    return "legal_contract" if found and found["doc_type"] in REVIEWED_TYPES else None


def low_confidence(state: State, limits: Limits) -> str | None:
    """A human reviews a classification the classifier is unsure of."""
    found = classification(state)
    if found and found["confidence"] < settings_of(limits).low_confidence:
        return "low_confidence"
    return None


def invoice_total_mismatch(state: State, limits: Limits) -> str | None:
    """A chunked invoice whose line items do not add up over all chunks goes to a human."""
    found = classification(state)
    if not found or found["doc_type"] != "invoice":
        return None
    entities = [Entity.model_validate(e) for e in extraction(state)["entities"]]
    return "invoice_total_mismatch" if check_invoice_total("invoice", entities) else None


TRIGGERS = (legal_contract, low_confidence, invoice_total_mismatch)
"""Reasons to ask a human before the extraction is stored, in the order they are reported."""


def content_hash(text: str) -> str:
    """The document's content hash (part of the storage idempotency key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def extraction_to_store(state: State) -> dict[str, Any] | None:
    """The extraction to store, once classified and not refused by a reviewer."""
    review = state.get("review") or {}
    if review.get("decision") == "reject":
        return None
    merged = extraction(state)
    return merged if merged["doc_type"] is not None else None


def documents_output(state: State) -> dict[str, Any]:
    """What a caller reads: the extraction, the review outcome and what was stored."""
    review = state.get("review")
    outcome = {"approve": "approved", "correct": "corrected", "reject": "rejected"}
    return {
        **extraction(state),
        "review_outcome": outcome.get(review["decision"]) if review else None,
        "stored": (state.get("action_results") or {}).get("store_extraction"),
    }


def documents_progress(state: State) -> dict[str, Any]:
    """The extraction as it stands, readable while a run waits on a reviewer."""
    return extraction(state)


def document_id_of(raw: Any) -> dict[str, Any]:
    """The document id, readable from intake on, whatever the input's shape."""
    return {"document_id": raw.get("document_id") if isinstance(raw, dict) else None}
