"""The `documents` workflow's contracts: the document, each agent's output, and the run's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict

from state.base import BaseState, ErrorRecord, OrchestrationContext, Status

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


SCHEMA_VERSION = 1
"""Version of the documents state schema (migrations start from here)."""


class DocumentPayload(TypedDict):
    """The document as a caller sends it; Studio draws its input form from these fields."""

    document_id: str
    text: str
    title: NotRequired[str]
    source: NotRequired[str]


class DocumentsInput(TypedDict):
    """What a caller passes: one document (validated at intake, never half-processed)."""

    document: DocumentPayload


class DocumentsOutput(TypedDict, total=False):
    """What a caller gets back: the type, the entities with their spans, the relationships."""

    document_id: str | None
    status: Status
    doc_type: str | None
    confidence: float | None
    entities: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    review_outcome: str | None
    stored: dict[str, Any] | None
    escalation_reason: str | None
    usage: dict[str, Any]
    errors: list[ErrorRecord]
    version: int
    schema_version: int


class DocumentsState(BaseState, total=False):
    """Everything a documents run knows: the base orchestration state and the document's fields.

    Entities carry spans in the whole document's text (chunk results are shifted by their
    chunk's offset and de-duplicated when merged).
    """

    document: dict[str, Any]
    document_id: str | None
    doc_type: str | None
    confidence: float | None
    entities: list[dict[str, Any]]
    relationships: list[dict[str, Any]]
    review_outcome: str | None
    stored: dict[str, Any] | None


@dataclass(kw_only=True)
class DocumentsContext(OrchestrationContext):
    """Run settings of the documents graph (Studio shows these fields)."""

    low_confidence: float = field(
        default=0.6,
        metadata={"description": "Below this classifier confidence, a human reviews."},
    )
    chunk_chars: int = field(
        default=200_000,
        metadata={"description": "Longer documents are split into chunks of this many characters."},
    )
    chunk_overlap: int = field(
        default=2_000,
        metadata={"description": "Characters two neighbouring chunks share."},
    )
    classify_chars: int = field(
        default=4_000,
        metadata={"description": "The classifier reads the document's first this many characters."},
    )
