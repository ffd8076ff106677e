"""Schema-valid corruptions of the document answers: the errors a real extractor makes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, get_args

from simulator.draws import Draws
from simulator.sections import PromptContext
from state.documents import DocumentType, EntityKind, RelationKind

DocCorruption = Callable[[dict[str, Any], PromptContext, Draws], dict[str, Any] | None]

DOC_TYPES: tuple[str, ...] = get_args(DocumentType)
ENTITY_KINDS: tuple[str, ...] = get_args(EntityKind)
RELATION_KINDS: tuple[str, ...] = get_args(RelationKind)
ISO_CODES = ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD")
ROLES = ("line_item", "subtotal", "tax", "total", "other")
INVENTED_NAMES = (
    "Vantage Ridge Partners LLC",
    "Okafor & Lindgren Ltd.",
    "Helmsley Maritime GmbH",
    "Quillon Data Systems Inc.",
    "Dr. Petra Vasquez-Hale",
)
INVENTED_IDS = ("INV-90417", "PO-31876", "CTR-7730-B", "REF-66021")


def document_of(ctx: PromptContext) -> str:
    """Return the text the answer is about: the `<document>` section, else the whole message."""
    return ctx.document if ctx.document is not None else ctx.text


def absent(candidates: tuple[str, ...], text: str, draws: Draws, purpose: str) -> str:
    """Pick one of `candidates` that does not occur in `text` (suffixed when all occur)."""
    options = tuple(c for c in candidates if c not in text)
    if options:
        return draws.choice(purpose, options)
    return f"{draws.choice(purpose, candidates)} {draws.integer(purpose + ':n', 100, 999)}"


def _other(value: Any, options: tuple[str, ...], draws: Draws, purpose: str) -> str:
    return draws.choice(purpose, tuple(option for option in options if option != value))


def _pick(items: list[dict[str, Any]], draws: Draws, purpose: str) -> dict[str, Any] | None:
    return draws.choice(purpose, items) if items else None


def swap_digits(value: float, draws: Draws) -> float:
    """Misread an amount: swap two adjacent, different digits (else drop the decimal mark)."""
    digits = f"{value:.2f}"
    places = [i for i in range(len(digits) - 1) if digits[i].isdigit() and digits[i + 1].isdigit()]
    places = [i for i in places if digits[i] != digits[i + 1]]
    if not places:
        return round(value * 100, 2) if value else 100.0
    i = draws.choice("corrupt:digits", places)
    return float(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])


# --- DocumentClassification ---------------------------------------------------------------


def _class_wrong_label(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value["doc_type"] = _other(value.get("doc_type"), DOC_TYPES, draws, "corrupt:doc_type")
    return value


def _class_wrong_field(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value["confidence"] = round(1.0 - float(value.get("confidence", 0.5)), 2)
    return value


def _class_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    ident = absent(INVENTED_IDS, document_of(ctx), draws, "invent:id")
    value["summary"] = f"{value.get('summary', '')} It refers to {ident}."[:300]
    return value


def _class_implausible(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value = _class_wrong_label(value, ctx, draws)
    value["confidence"] = 0.99
    return value


# --- ExtractedEntities --------------------------------------------------------------------


def _amounts(value: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in value.get("entities", []) if e.get("kind") == "amount"]


def _ent_wrong_label(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    entity = _pick(value.get("entities", []), draws, "corrupt:entity")
    if entity is None:
        return None
    entity["kind"] = _other(entity["kind"], ENTITY_KINDS, draws, "corrupt:entity_kind")
    if entity["kind"] != "amount":
        entity.update(value=None, currency=None, role=None)
    return value


def _ent_wrong_field(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    entities = value.get("entities", [])
    amount = _pick(_amounts(value), draws, "corrupt:amount")
    if amount is not None and draws.uniform("corrupt:entity_field") < 0.5:
        amount["role"] = _other(amount.get("role"), ROLES, draws, "corrupt:role")
        return value
    if not entities:
        return None
    entities.pop(draws.integer("corrupt:drop", 0, len(entities) - 1))
    return value


def _ent_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    text = document_of(ctx)
    name = absent(INVENTED_NAMES, text, draws, "invent:name")
    start = draws.integer("invent:start", 0, max(0, len(text) - len(name)))
    entity = {"kind": "organization", "text": name, "start": start, "end": start + len(name)}
    if name.startswith("Dr. "):
        entity["kind"] = "person"
    value.setdefault("entities", []).append(entity)
    value["entities"] = value["entities"][-200:]
    return value


def _ent_span_shift(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    entity = _pick(value.get("entities", []), draws, "corrupt:span")
    if entity is None:
        return None
    shift = draws.choice("corrupt:shift", (-3, -2, -1, 1, 2, 3))
    if entity["start"] + shift < 0:
        shift = -shift
    entity["start"] += shift
    entity["end"] += shift
    return value


def _ent_wrong_currency(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    amount = _pick(_amounts(value), draws, "corrupt:amount")
    if amount is None:
        return None
    amount["currency"] = _other(amount.get("currency"), ISO_CODES, draws, "corrupt:currency")
    return value


def _ent_misread_amount(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    amount = _pick(_amounts(value), draws, "corrupt:amount")
    if amount is None or amount.get("value") is None:
        return None
    amount["value"] = swap_digits(float(amount["value"]), draws)
    return value


def _ent_implausible(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    amount = _pick(_amounts(value), draws, "corrupt:amount")
    if amount is None:
        return _ent_invented(value, ctx, draws)
    amount.update(value=round(float(amount.get("value") or 1.0) * 1000, 2), role="total")
    return value


# --- ExtractedRelationships ---------------------------------------------------------------


def _links(value: dict[str, Any]) -> list[dict[str, Any]]:
    return list(value.get("relationships", []))


def _rel_wrong_label(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    link = _pick(_links(value), draws, "corrupt:link")
    if link is None:
        return None
    link["kind"] = _other(link["kind"], RELATION_KINDS, draws, "corrupt:link_kind")
    return value


def _rel_wrong_field(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    links = value.get("relationships", [])
    if not links:
        return None
    i = draws.integer("corrupt:link_index", 0, len(links) - 1)
    if draws.uniform("corrupt:link_field") < 0.5:
        links.pop(i)
    else:
        links[i]["source"], links[i]["target"] = links[i]["target"], links[i]["source"]
    return value


def _rel_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any] | None:
    ends = sorted({t for link in _links(value) for t in (link["source"], link["target"])})
    if len(ends) < 2:
        return None
    source = draws.choice("invent:source", ends)
    target = _other(source, tuple(ends), draws, "invent:target")
    kind = draws.choice("invent:link_kind", RELATION_KINDS)
    value["relationships"] = [*_links(value), {"kind": kind, "source": source, "target": target}]
    value["relationships"] = value["relationships"][-200:]
    return value


def _rel_dangling(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    text = document_of(ctx)
    name = absent(INVENTED_NAMES, text, draws, "invent:name")
    link = _pick(_links(value), draws, "corrupt:link")
    if link is None:
        words = re.findall(r"[A-Z][a-z]{3,}", text)
        target = draws.choice("invent:word", words) if words else "the Supplier"
        value["relationships"] = [{"kind": "party_to", "source": name, "target": target}]
        return value
    link[draws.choice("corrupt:end", ("source", "target"))] = name
    return value


def _rel_implausible(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    name = absent(INVENTED_NAMES, document_of(ctx), draws, "invent:name")
    value["relationships"] = [
        *_links(value),
        {"kind": "pays", "source": name, "target": "$999,999.00"},
    ][-200:]
    return value


DOCUMENT_CORRUPTIONS: dict[str, dict[str, DocCorruption]] = {
    "DocumentClassification": {
        "wrong_label": _class_wrong_label,
        "wrong_field": _class_wrong_field,
        "invented_value": _class_invented,
        "implausible": _class_implausible,
    },
    "ExtractedEntities": {
        "wrong_label": _ent_wrong_label,
        "wrong_field": _ent_wrong_field,
        "invented_value": _ent_invented,
        "span_shift": _ent_span_shift,
        "wrong_currency": _ent_wrong_currency,
        "misread_amount": _ent_misread_amount,
        "implausible": _ent_implausible,
    },
    "ExtractedRelationships": {
        "wrong_label": _rel_wrong_label,
        "wrong_field": _rel_wrong_field,
        "invented_value": _rel_invented,
        "dangling_relation": _rel_dangling,
        "implausible": _rel_implausible,
    },
}
"""Corruption of each kind for each document schema (kinds absent from a schema never apply)."""
