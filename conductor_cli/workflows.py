"""The workflows the CLI runs, and what differs between them at the batch's edge."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nodes.resources import Resources


@dataclass(frozen=True)
class WorkflowEntry:
    """How the CLI runs one workflow.

    Attributes:
        name: The graph's name (as in `langgraph.json`).
        input_key: The input's key in the graph input (`{"ticket": {...}}`).
        id_field: The id field of an input object, and of an output line.
        make_builder: The graph builder bound to the given resources.
        context: The default run settings.
        fields: The workflow's own fields of an output line, from a run's final state.
        summary_rows: The workflow's own rows of the batch summary, from its output lines,
            the batch and the store.
        store_ready: What an existing store lacks for this workflow (e.g. "holds no
            orders"), or None when it can serve a batch; None: any store will do.
    """

    name: str
    input_key: str
    id_field: str
    make_builder: Callable[[Resources], Any]
    context: Callable[[], Any]
    fields: Callable[[dict[str, Any]], dict[str, Any]]
    summary_rows: Callable[[list[dict[str, Any]], Any, Any], list[tuple[str, str]]]
    store_ready: Callable[[Any], str | None] | None = None


def _support_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "intent": values.get("intent")
        or ((values.get("results") or {}).get("classify") or {}).get("intent"),
        "refund": values.get("refund"),
        "reply": values.get("reply"),
    }


def _support_rows(records: list[dict[str, Any]], result: Any, store: Any) -> list[tuple[str, str]]:
    """Refunds issued, the ledger audit of this batch's refunds, and the amounts by currency."""
    from evals.audit import audit_refunds

    issued = [r["refund"] for r in records if r["refund"] and r["refund"].get("issued")]
    by_currency: Counter[str] = Counter()
    for refund in issued:
        by_currency[refund["currency"]] += refund["amount"]
    refunds = [r for r in store.all_refunds() if r["ticket_id"] in result.customers]
    violations = audit_refunds(refunds, store.get_order, result.customers, reviewed=result.reviewed)
    rows = [
        ("refunds issued", str(len(issued))),
        ("policy violations (ledger audit)", str(len(violations))),
        ("refunds in the ledger (whole store)", str(store.count_refunds())),
    ]
    rows += [(f"refunded {c}", f"{amount:.2f}") for c, amount in sorted(by_currency.items())]
    return rows


def _support_store_ready(store: Any) -> str | None:
    """A support batch needs orders to look tickets up in."""
    return None if store.count_orders() else "holds no orders"


def _support() -> WorkflowEntry:
    from graphs.support import make_builder
    from state.support import SupportContext

    return WorkflowEntry(
        name="support",
        input_key="ticket",
        id_field="ticket_id",
        make_builder=make_builder,
        context=SupportContext,
        fields=_support_fields,
        summary_rows=_support_rows,
        store_ready=_support_store_ready,
    )


def _documents_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "doc_type": values.get("doc_type"),
        "confidence": values.get("confidence"),
        "entities": values.get("entities") or [],
        "relationships": values.get("relationships") or [],
        "review_outcome": values.get("review_outcome"),
        "stored": values.get("stored"),
    }


def _documents_rows(
    records: list[dict[str, Any]], result: Any, store: Any
) -> list[tuple[str, str]]:
    """Types found, entities and relationships extracted, extractions stored (new / again)."""
    types = Counter(r["doc_type"] for r in records if r.get("doc_type"))
    stored = [r["stored"] for r in records if r.get("stored")]
    rows = [(f"type {t}", str(n)) for t, n in sorted(types.items())]
    rows += [
        ("entities extracted", str(sum(len(r.get("entities") or []) for r in records))),
        ("relationships", str(sum(len(r.get("relationships") or []) for r in records))),
        ("extractions stored (new)", str(sum(1 for s in stored if s.get("created")))),
        ("extractions already stored", str(sum(1 for s in stored if not s.get("created")))),
    ]
    return rows


def _documents() -> WorkflowEntry:
    from graphs.documents import make_builder
    from state.documents import DocumentsContext

    return WorkflowEntry(
        name="documents",
        input_key="document",
        id_field="document_id",
        make_builder=make_builder,
        context=DocumentsContext,
        fields=_documents_fields,
        summary_rows=_documents_rows,
    )


WORKFLOWS: dict[str, Callable[[], WorkflowEntry]] = {
    "support": _support,
    "documents": _documents,
}
"""Every workflow the CLI can run, by graph name (built lazily: imports are heavy)."""


def workflow(name: str) -> WorkflowEntry:
    """The entry of a workflow by name.

    Raises:
        KeyError: Naming the workflows there are.
    """
    try:
        return WORKFLOWS[name]()
    except KeyError:
        raise KeyError(f"unknown workflow {name!r}; known: {sorted(WORKFLOWS)}") from None
