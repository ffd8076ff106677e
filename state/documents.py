"""The `documents` workflow's contracts: the document, each agent's output, and the run's state."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DocumentType = Literal[
    "invoice", "purchase_order", "legal_contract", "support_email", "resume", "other"
]
"""Every label the document classifier may answer with."""

EntityKind = Literal["person", "organization", "date", "amount", "address", "identifier"]
"""Kinds of entity the extractor finds."""

AmountRole = Literal["line_item", "subtotal", "tax", "total", "other"]
"""What an amount is on the document (the invoice-sum gate reads line items, tax and total)."""

RelationKind = Literal["party_to", "pays", "dated", "signed_by", "references"]
"""Kinds of relationship between two extracted entities."""

MAX_DOCUMENT_CHARS = 2_000_000
"""Hard ceiling on a document's size at intake; longer documents are refused, never cut."""


class Document(BaseModel):
    """A document as it enters the `documents` graph (plain text or Markdown)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    document_id: str = Field(min_length=1, max_length=128, description="Caller's id.")
    title: str | None = Field(default=None, max_length=500, description="Title, if any.")
    text: str = Field(
        min_length=1, max_length=MAX_DOCUMENT_CHARS, description="The text. Untrusted data."
    )
    source: str | None = Field(default=None, max_length=500, description="Where it came from.")

    @field_validator("document_id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("text")
    @classmethod
    def _text_is_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty (only whitespace)")
        if "\x00" in value:
            raise ValueError("looks binary: it contains NUL characters")
        controls = sum(1 for ch in value if ord(ch) < 32 and ch not in "\t\n\r\f")
        if controls > max(8, len(value) // 100):
            raise ValueError(f"looks binary: {controls} control characters")
        return value


class DocumentClassification(BaseModel):
    """What kind of document it is (classify_document's structured output)."""

    doc_type: DocumentType = Field(description="The document's type.")
    confidence: float = Field(
        ge=0.0, le=1.0, allow_inf_nan=False, description="Confidence in the label, 0..1."
    )
    summary: str = Field(max_length=300, description="One sentence on what the document is.")


class Entity(BaseModel):
    """One entity found in the text, with its span in the text the agent was given."""

    kind: EntityKind = Field(description="What the entity is.")
    text: str = Field(min_length=1, max_length=300, description="The exact text of the entity.")
    start: int = Field(ge=0, description="Offset of its first character in the given text.")
    end: int = Field(ge=1, description="Offset just past its last character.")
    currency: str | None = Field(
        default=None, max_length=3, description="ISO 4217 code, for an amount."
    )
    value: float | None = Field(
        default=None, allow_inf_nan=False, description="Numeric value, for an amount."
    )
    role: AmountRole | None = Field(default=None, description="What an amount stands for.")


class ExtractedEntities(BaseModel):
    """The entities of one chunk (extract_document_entities's structured output)."""

    entities: list[Entity] = Field(max_length=200, description="Entities in order of appearance.")


class Relationship(BaseModel):
    """A relationship between two entities, each named by its exact text."""

    kind: RelationKind = Field(description="What links the two entities.")
    source: str = Field(min_length=1, max_length=300, description="Text of the first entity.")
    target: str = Field(min_length=1, max_length=300, description="Text of the second entity.")


class ExtractedRelationships(BaseModel):
    """The relationships of one chunk (extract_relationships's structured output)."""

    relationships: list[Relationship] = Field(max_length=200, description="Relationships found.")
