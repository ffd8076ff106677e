"""The documents workflow's review: the packet shown, and a correction gated like an agent's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nodes.documents.rules import classification, extraction
from nodes.spec import State
from state.documents import (
    DocumentType,
    Entity,
    ExtractedEntities,
    ExtractedRelationships,
    Relationship,
)
from validators.documents import check_entities_in_text, check_relationship_endpoints


class DocumentReview(BaseModel):
    """A reviewer's answer (the value passed to `Command(resume=...)`).

    `correct` replaces what it names: the type, the entities (spans in the whole document)
    or the relationships; the correction is checked against the document like an agent's
    output, and refused with the reason when it does not hold.
    """

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "correct", "reject"] = Field(
        description="approve the extraction, correct it, or reject it (nothing is stored)."
    )
    doc_type: DocumentType | None = Field(default=None, description="Corrected type.")
    entities: list[Entity] | None = Field(
        default=None, max_length=2000, description="Corrected entities (whole-document spans)."
    )
    relationships: list[Relationship] | None = Field(
        default=None, max_length=2000, description="Corrected relationships."
    )
    note: str | None = Field(default=None, max_length=2000, description="Reviewer's note.")

    @model_validator(mode="after")
    def _corrections_go_with_correct(self) -> DocumentReview:
        named = [k for k in ("doc_type", "entities", "relationships") if getattr(self, k)]
        if self.decision == "correct" and not named:
            raise ValueError("decision 'correct' needs doc_type, entities or relationships")
        if self.decision != "correct" and named:
            raise ValueError(f"{', '.join(named)} only go with decision 'correct'")
        return self


def check_review(review: BaseModel, state: State, settings: Any = None) -> str | None:
    """Why a well-formed answer cannot be carried out: a correction that fails the gates.

    Approving needs something to approve (a classified document).
    """
    assert isinstance(review, DocumentReview)
    if review.decision == "reject":
        return None
    if review.decision == "approve":
        if classification(state) is None:
            return "nothing to approve: the document was never classified; correct or reject it"
        return None
    problems = []
    text = state["document"]["text"]
    if review.entities is not None:
        violations = check_entities_in_text(ExtractedEntities(entities=review.entities), text)
        problems += [f"{v.field}: {v.message}" for v in violations]
    if review.relationships is not None:
        entities = review.entities
        if entities is None:
            entities = [Entity.model_validate(e) for e in extraction(state)["entities"]]
        rels = ExtractedRelationships(relationships=review.relationships)
        problems += [
            f"{v.field}: {v.message}" for v in check_relationship_endpoints(rels, entities)
        ]
    return "; ".join(problems) or None


def review_packet(state: State) -> dict[str, Any]:
    """Everything a reviewer needs: the document's head, the extraction, the failed gates."""
    document = state.get("document") or {}
    text = str(document.get("text") or "")
    proposed = extraction(state)
    return {
        "summary": (
            f"{proposed['doc_type'] or 'unclassified'}, {len(proposed['entities'])} entities, "
            f"{len(proposed['relationships'])} relationships"
        ),
        "document_id": document.get("document_id"),
        "title": document.get("title"),
        "text_head": text[:2000],
        "text_chars": len(text),
        "proposed": proposed,
    }


def settled_by_review(review: Mapping[str, Any], state: State) -> set[str]:
    """A correction or a refusal settles every extraction subtask; an approval settles none."""
    if review.get("decision") in ("correct", "reject"):
        return {"classify", "entities", "relations"}
    return set()


def is_refusal(review: Mapping[str, Any]) -> bool:
    """A reviewer's `reject` refuses the extraction (status `denied`)."""
    return review.get("decision") == "reject"
