"""The `documents` workflow: classify, extract entities and relations per chunk, review, store."""

from __future__ import annotations

from typing import Any

from graphs.build import build_graph
from nodes.documents.gates import (
    gate_classification,
    gate_entities,
    gate_relationships,
    invoice_adds_up,
    relationships_join_entities,
)
from nodes.documents.prompts import classify_prompt, entities_prompt, relations_prompt
from nodes.documents.review import (
    DocumentReview,
    check_review,
    is_refusal,
    review_packet,
    settled_by_review,
)
from nodes.documents.rules import (
    TRIGGERS,
    chunks,
    document_id_of,
    documents_output,
    documents_progress,
    extraction_to_store,
)
from nodes.documents.storage import store_extraction
from nodes.resources import Resources, server_resources
from nodes.spec import ActionSpec, CrossGate, ReviewSpec, SubtaskSpec, WorkflowSpec
from state.documents import (
    SCHEMA_VERSION,
    Document,
    DocumentClassification,
    DocumentsContext,
    DocumentsInput,
    DocumentsOutput,
    DocumentsState,
    ExtractedEntities,
    ExtractedRelationships,
)

DOCUMENTS = WorkflowSpec(
    name="documents",
    input_key="document",
    input_model=Document,
    schema_version=SCHEMA_VERSION,
    state_schema=DocumentsState,
    input_schema=DocumentsInput,
    output_schema=DocumentsOutput,
    context_schema=DocumentsContext,
    describe_input='{"document": {"document_id", "text", "title"?, "source"?}}',
    subtasks=(
        SubtaskSpec(
            id="classify",
            agent="classify_document",
            output=DocumentClassification,
            prompt=classify_prompt,
            gate=gate_classification,
        ),
        SubtaskSpec(
            id="entities",
            agent="extract_document_entities",
            output=ExtractedEntities,
            prompt=entities_prompt,
            gate=gate_entities,
            depends_on=("classify",),
            fanout=chunks,
        ),
        SubtaskSpec(
            id="relations",
            agent="extract_relationships",
            output=ExtractedRelationships,
            prompt=relations_prompt,
            gate=gate_relationships,
            depends_on=("classify",),
            fanout=chunks,
        ),
    ),
    cross_gates=(
        CrossGate(
            name="relationships_join_entities",
            target="relations",
            source="entities",
            check=relationships_join_entities,
        ),
        CrossGate(
            name="invoice_adds_up", target="entities", source="classify", check=invoice_adds_up
        ),
    ),
    triggers=TRIGGERS,
    actions=(
        ActionSpec(name="store_extraction", due=extraction_to_store, perform=store_extraction),
    ),
    review=ReviewSpec(
        packet=review_packet,
        resume_model=DocumentReview,
        check=check_review,
        settles=settled_by_review,
        refusal=is_refusal,
    ),
    output=documents_output,
    progress=documents_progress,
)
"""The documents workflow: classify → (entities ∥ relationships) per chunk → review → store."""


def make_builder(resources: Resources) -> Any:
    """The documents graph's builder, its nodes bound to `resources` (CLI, tests, evals)."""
    return build_graph(DOCUMENTS, resources, opened=document_id_of)


builder = make_builder(server_resources())
"""The builder `langgraph.json`'s graph is compiled from, bound to the server's resources."""

graph = builder.compile(name="documents").with_config(
    tags=["graph:documents"], metadata={"graph": "documents"}
)
"""The graph `langgraph.json` serves; the server brings its own checkpointer."""
