"""Evaluators of the documents eval: plain functions, the same offline and on LangSmith.

Each takes the run's `outputs` (what the documents graph produced for one document) and
the example's `reference_outputs` (its labels in `evals/datasets/documents.jsonl`) and
returns `{"key", "score", "comment"}`; a score of None means "does not apply here".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def span_mismatches(text: str, entities: Sequence[Mapping[str, Any]]) -> int:
    """How many entities' text differs from the document's text at their span."""
    return sum(
        1 for e in entities if text[int(e.get("start", 0)) : int(e.get("end", 0))] != e.get("text")
    )


def _entities(found: Any) -> set[tuple[str, int, int]]:
    return {(str(e["kind"]), int(e["start"]), int(e["end"])) for e in found or []}


def _relations(found: Any) -> set[tuple[str, str, str]]:
    return {(str(r["kind"]), str(r["source"]), str(r["target"])) for r in found or []}


def _ratio(key: str, hits: int, total: int) -> dict[str, Any]:
    return {"key": key, "score": hits / total if total else None, "comment": f"{hits}/{total}"}


def doc_type_match(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """1 when the gated type equals the labelled one."""
    got, want = outputs.get("doc_type"), reference_outputs.get("doc_type")
    return {"key": "doc_type_match", "score": int(got == want), "comment": f"{got} vs {want}"}


def entity_precision(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """Share of the extracted entities that are labelled (same kind, same exact span)."""
    got, want = _entities(outputs.get("entities")), _entities(reference_outputs.get("entities"))
    return _ratio("entity_precision", len(got & want), len(got))


def entity_recall(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """Share of the labelled entities extracted (same kind, same exact span)."""
    got, want = _entities(outputs.get("entities")), _entities(reference_outputs.get("entities"))
    return _ratio("entity_recall", len(got & want), len(want))


def relationship_precision(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict:
    """Share of the extracted relationships that are labelled (kind, source, target)."""
    got = _relations(outputs.get("relationships"))
    want = _relations(reference_outputs.get("relationships"))
    return _ratio("relationship_precision", len(got & want), len(got))


def relationship_recall(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """Share of the labelled relationships extracted (kind, source, target)."""
    got = _relations(outputs.get("relationships"))
    want = _relations(reference_outputs.get("relationships"))
    return _ratio("relationship_recall", len(got & want), len(want))


def needs_review_recall(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """On documents labelled "needs review": 1 when the run went to a human (None otherwise)."""
    if not reference_outputs.get("needs_review"):
        return {"key": "needs_review_recall", "score": None, "comment": "no review expected"}
    went = bool(outputs.get("needs_review"))
    return {
        "key": "needs_review_recall",
        "score": int(went),
        "comment": str(outputs.get("escalation_reason")),
    }


def review_match(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """1 when a human was asked exactly when the label says so."""
    got, want = bool(outputs.get("needs_review")), bool(reference_outputs.get("needs_review"))
    return {
        "key": "review_match",
        "score": int(got == want),
        "comment": f"{got} ({outputs.get('escalation_reason')}) vs {want}",
    }


def spans_exact(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict:
    """1 when no output entity's text differs from the document's text at its span."""
    wrong = int(outputs.get("span_mismatches") or 0)
    return {"key": "spans_exact", "score": int(wrong == 0), "comment": f"{wrong} mismatched"}


DOCUMENT_EVALUATORS = (
    doc_type_match,
    entity_precision,
    entity_recall,
    relationship_precision,
    relationship_recall,
    needs_review_recall,
    review_match,
    spans_exact,
)
"""Every evaluator of the documents eval, in report order."""
