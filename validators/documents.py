"""Gates of the documents workflow: entities occur where they say, links join them, sums add up."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, get_args

from state.documents import (
    DocumentClassification,
    DocumentType,
    Entity,
    EntityKind,
    ExtractedEntities,
    ExtractedRelationships,
)
from state.money import from_cents, to_cents
from state.schemas import Violation

ISO_CURRENCIES: frozenset[str] = frozenset(
    "USD EUR GBP CHF JPY CAD AUD NZD SEK NOK DKK PLN CZK HUF CNY HKD SGD INR BRL MXN ZAR".split()
)
"""ISO 4217 codes an extracted amount may carry."""

_MARKS: dict[str, str] = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_CODE_IN_SPAN = re.compile(r"\b([A-Z]{3})\b")
_NUMBER_IN_SPAN = re.compile(r"\d[\d.,' \u00a0]*\d|\d")
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
)
_ORDINAL = re.compile(r"(?<=\d)(st|nd|rd|th)\b", re.IGNORECASE)


def parse_written_amount(span: str) -> float:
    """Parse the number written in an amount's text: `$1,234.56`, `1.234,56 €`, `EUR 12`.

    The last `.` or `,` followed by one or two digits is the decimal mark; every other
    separator (`,` `.` `'` space) groups thousands.

    Args:
        span: The amount as written in the document.

    Returns:
        The value.

    Raises:
        ValueError: When the text holds no number, or more than one.
    """
    numbers = _NUMBER_IN_SPAN.findall(span)
    if len(numbers) != 1:
        raise ValueError(f"expected one number in {span!r}, found {len(numbers)}")
    digits = re.sub(r"[' \u00a0]", "", numbers[0])
    decimal = re.search(r"[.,](\d{1,2})$", digits)
    whole = digits[: decimal.start()] if decimal else digits
    if re.search(r"[.,]", whole) and not re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", whole):
        raise ValueError(f"badly grouped digits in {span!r}")
    value = re.sub(r"[.,]", "", whole) + (f".{decimal.group(1)}" if decimal else "")
    return float(value)


def written_currency(span: str) -> str | None:
    """Return the currency an amount's text states (a symbol or an ISO code), if any."""
    for mark, code in _MARKS.items():
        if mark in span:
            return code
    match = _CODE_IN_SPAN.search(span)
    return match.group(1) if match and match.group(1) in ISO_CURRENCIES else None


def parse_written_date(span: str) -> date:
    """Parse a date as written: `2026-03-01`, `1 March 2026`, `March 1, 2026`, `01/03/2026`...

    Args:
        span: The date's text.

    Returns:
        The date (day-first when a numeric date reads both ways).

    Raises:
        ValueError: When no known format yields a valid calendar date.
    """
    cleaned = re.sub(r"\bSept\b", "Sep", _ORDINAL.sub("", span).replace(",", " "))
    cleaned = " ".join(cleaned.split())
    cleaned = cleaned.replace(". ", " ").rstrip(".")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{span!r} is not a valid calendar date in a known format")


def check_entities_in_text(entities: ExtractedEntities, text: str) -> list[Violation]:
    """Check every entity against the text it was extracted from.

    Each entity's text must be `text[start:end]` (so no invented entity and no shifted span),
    an amount must carry a finite value equal to the number written in its span and a known
    ISO currency that agrees with any currency written there, and a date must be a valid
    calendar date.

    Args:
        entities: The extractor's output for one text.
        text: The text given to the extractor (the chunk, not the whole document).

    Returns:
        One violation per problem; none when every entity holds.
    """
    violations: list[Violation] = []
    items = getattr(entities, "entities", None)
    if not isinstance(items, list | tuple):
        return [Violation(kind="format", field="entities", message="entities is not a list")]
    for i, entity in enumerate(items):
        try:
            violations.extend(_check_entity(entity, text, f"entities[{i}]"))
        except (AttributeError, TypeError, ValueError, OverflowError) as exc:
            violations.append(
                Violation(kind="format", field=f"entities[{i}]", message=f"unreadable: {exc}")
            )
    return violations


def _check_entity(entity: Any, text: str, field: str) -> list[Violation]:
    said, start, end = entity.text, entity.start, entity.end
    if not isinstance(said, str) or not said:
        return [_v("format", f"{field}.text", "the entity has no text")]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        return [_v("format", f"{field}.start", f"span {start!r}..{end!r} is not two integers")]
    if entity.kind not in get_args(EntityKind):
        return [_v("format", f"{field}.kind", f"unknown entity kind {entity.kind!r}")]
    if not 0 <= start < end <= len(text):
        return [_v("consistency", f"{field}.end", _span_message(said, start, end, text))]
    if text[start:end] != said:
        return [_v("consistency", f"{field}.text", _span_message(said, start, end, text))]
    if entity.kind == "amount":
        return _check_amount(entity, said, field)
    if entity.kind == "date":
        try:
            parse_written_date(said)
        except ValueError as exc:
            return [_v("plausibility", f"{field}.text", str(exc))]
    return []


def _span_message(said: str, start: int, end: int, text: str) -> str:
    where = text.find(said)
    if where < 0:
        return f"{said!r} does not occur in the text (invented)"
    return f"{said!r} is not at {start}..{end} (it occurs at {where}..{where + len(said)})"


def _check_amount(entity: Any, said: str, field: str) -> list[Violation]:
    value, currency = entity.value, entity.currency
    out: list[Violation] = []
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        out.append(_v("format", f"{field}.value", f"amount value {value!r} is not a finite number"))
    else:
        try:
            written = parse_written_amount(said)
        except ValueError as exc:
            out.append(_v("consistency", f"{field}.value", str(exc)))
        else:
            if to_cents(written) != to_cents(value):
                message = f"value {value} differs from the {written} written in {said!r}"
                out.append(_v("consistency", f"{field}.value", message))
    if currency not in ISO_CURRENCIES:
        out.append(_v("format", f"{field}.currency", f"{currency!r} is not a known ISO currency"))
    else:
        stated = written_currency(said)
        if stated is not None and stated != currency:
            message = f"currency {currency} but {said!r} is written in {stated}"
            out.append(_v("consistency", f"{field}.currency", message))
    return out


def check_relationship_endpoints(
    relationships: ExtractedRelationships, entities: Sequence[Entity]
) -> list[Violation]:
    """Check that every relationship joins two extracted entities (named by their exact text).

    Args:
        relationships: The relationship extractor's output.
        entities: The entities extracted from the same text (gated already).

    Returns:
        One violation per endpoint that names no extracted entity.
    """
    try:
        known = {entity.text for entity in entities if isinstance(entity.text, str)}
        links = list(relationships.relationships)
    except (AttributeError, TypeError) as exc:
        return [_v("format", "relationships", f"unreadable: {exc}")]
    violations: list[Violation] = []
    for i, link in enumerate(links):
        for end in ("source", "target"):
            name = getattr(link, end, None)
            if not isinstance(name, str) or name not in known:
                message = f"{end} {name!r} is not the text of any extracted entity"
                violations.append(_v("consistency", f"relationships[{i}].{end}", message))
    return violations


def check_invoice_total(
    doc_type: str, entities: Sequence[Entity], tolerance: float = 0.01
) -> list[Violation]:
    """Check that an invoice's line items, subtotal and tax add up to its total.

    With a subtotal: the line items sum to the subtotal and subtotal + tax equals the total.
    Without one: line items + tax equal the total. Only amounts in the total's currency are
    summed; a line item in another currency is itself a violation. Entities from overlapping
    chunks must be deduplicated (by span in the whole document) before this gate.

    Args:
        doc_type: The classified type; other types than `invoice` pass.
        entities: Every amount extracted from the invoice (other kinds are ignored).
        tolerance: Largest accepted difference, in currency units.

    Returns:
        A consistency violation naming both figures when the sums disagree.
    """
    if doc_type != "invoice":
        return []
    try:
        amounts = [e for e in entities if e.kind == "amount"]
        totals = [e for e in amounts if e.role == "total"]
        lines = [e for e in amounts if e.role == "line_item"]
        if not totals or not lines:
            return []
        total = totals[-1]
        currency = total.currency
        foreign = [e.text for e in amounts if e.role != "other" and e.currency != currency]
        if foreign:
            message = f"amounts {foreign} are not in the total's currency {currency}"
            return [_v("consistency", "entities.currency", message)]
        cents = {
            role: sum(_cents(e.value) for e in amounts if e.role == role)
            for role in ("line_item", "tax", "subtotal")
        }
        has_subtotal = any(e.role == "subtotal" for e in amounts)
        limit = to_cents(tolerance)
        total_cents = _cents(total.value)
    except (AttributeError, TypeError, ValueError) as exc:
        return [_v("format", "entities", f"unreadable amounts: {exc}")]
    violations = []
    if has_subtotal and abs(cents["line_item"] - cents["subtotal"]) > limit:
        message = (
            f"line items sum to {from_cents(cents['line_item']):.2f} {currency} but the "
            f"subtotal is {from_cents(cents['subtotal']):.2f} {currency}"
        )
        violations.append(_v("consistency", "entities.subtotal", message))
    base = cents["subtotal"] if has_subtotal else cents["line_item"]
    if abs(base + cents["tax"] - total_cents) > limit:
        what = "subtotal + tax" if has_subtotal else "line items + tax"
        message = (
            f"{what} = {from_cents(base + cents['tax']):.2f} {currency} but the total is "
            f"{from_cents(total_cents):.2f} {currency}"
        )
        violations.append(_v("consistency", "entities.total", message))
    return violations


def check_classification(classification: DocumentClassification) -> list[Violation]:
    """Check a classification: a known type, a finite confidence in 0..1, a short summary.

    Args:
        classification: The classifier's output (possibly built without validation).

    Returns:
        One violation per problem.
    """
    violations: list[Violation] = []
    doc_type = getattr(classification, "doc_type", None)
    confidence = getattr(classification, "confidence", None)
    summary = getattr(classification, "summary", None)
    if doc_type not in get_args(DocumentType):
        violations.append(_v("format", "doc_type", f"unknown document type {doc_type!r}"))
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        message = f"confidence {confidence!r} is not a number in 0..1"
        violations.append(_v("plausibility", "confidence", message))
    if not isinstance(summary, str) or len(summary) > 300:
        violations.append(_v("format", "summary", "summary is not a string of ≤ 300 characters"))
    return violations


def _cents(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"amount value {value!r} is not a number")
    return to_cents(value)


def _v(kind: Any, field: str, message: str) -> Violation:
    return Violation(kind=kind, field=field, message=message)
