"""The documents workflow's gates, adapted to the core: per subtask and across subtasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nodes.documents.prompts import chunk_text
from nodes.spec import GateInput
from state.base import Violation
from state.documents import (
    DocumentClassification,
    ExtractedEntities,
    ExtractedRelationships,
)
from validators.documents import (
    check_classification,
    check_entities_in_text,
    check_invoice_total,
    check_relationship_endpoints,
)
from validators.format import check_format

Verdict = tuple[dict[str, Any] | None, list[Violation]]


def _verdict(model: Any, violations: list[Violation]) -> Verdict:
    if model is None or violations:
        return None, violations
    return model.model_dump(mode="json"), []


def gate_classification(raw: Mapping[str, Any], given: GateInput) -> Verdict:
    """Format, then a finite confidence in [0, 1]."""
    model, violations = check_format(DocumentClassification, raw)
    if model is None:
        return None, violations
    return _verdict(model, check_classification(model))


def gate_entities(raw: Mapping[str, Any], given: GateInput) -> Verdict:
    """Format, then every entity equals its chunk's text at its span (no invented entity)."""
    model, violations = check_format(ExtractedEntities, raw)
    if model is None:
        return None, violations
    return _verdict(model, check_entities_in_text(model, chunk_text(given.state, given.item)))


def gate_relationships(raw: Mapping[str, Any], given: GateInput) -> Verdict:
    """Format only; endpoints are checked against the same chunk's entities (cross gate)."""
    model, violations = check_format(ExtractedRelationships, raw)
    return _verdict(model, violations)


def relationships_join_entities(
    relationships: Mapping[str, Any], entities: Mapping[str, Any], given: GateInput
) -> list[Violation]:
    """A relationship's ends are entities extracted from the same chunk."""
    return check_relationship_endpoints(
        ExtractedRelationships.model_validate(relationships),
        ExtractedEntities.model_validate(entities).entities,
    )


def invoice_adds_up(
    entities: Mapping[str, Any], classification: Mapping[str, Any], given: GateInput
) -> list[Violation]:
    """An invoice's line items and tax add up to its total (a one-chunk invoice's entities).

    A chunked invoice is summed over all its chunks by `rules.invoice_total_trigger` instead,
    which asks a human when the sums disagree.
    """
    if given.item is not None and given.item.get("of", 1) != 1:
        return []
    found = ExtractedEntities.model_validate(entities).entities
    return check_invoice_total(str(classification.get("doc_type")), found)
