"""Deterministic answers for the document schemas, from the `<document>` text only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from simulator.sections import PromptContext

MAX_ITEMS = 200
"""ExtractedEntities and ExtractedRelationships hold at most this many items."""

# --- classification -----------------------------------------------------------------------

_CUES: dict[str, re.Pattern[str]] = {
    "invoice": re.compile(
        r"\binvoice\b|\bamount due\b|\bbill(ed)? to\b|\bbalance due\b|\bremit\b|\bINV-", re.I
    ),
    "purchase_order": re.compile(
        r"\bpurchase order\b|\bPO-\d|\bship to\b|\bdeliver(y)? by\b|\bordered by\b|\bbuyer\b",
        re.I,
    ),
    "legal_contract": re.compile(
        r"\bagreement\b|\bwhereas\b|\bhereinafter\b|\bgoverning law\b|\bin witness whereof\b|"
        r"\bindemnif\w*|\bthe parties\b|\btermination\b|\bshall\b",
        re.I,
    ),
    "support_email": re.compile(
        r"^(from|to|subject):|\bmy order\b|\bplease help\b|\bsupport\b|\bticket\b|\bhi\b|"
        r"\bthanks?\b|\brefund\b|\bnot working\b",
        re.I | re.M,
    ),
    "resume": re.compile(
        r"\bresum[eé]\b|\bcurriculum vitae\b|\bwork experience\b|\beducation\b|\bskills\b|"
        r"\bprofessional summary\b|\bemployment history\b",
        re.I,
    ),
}

_SUMMARY = {
    "invoice": "An invoice requesting payment for goods or services.",
    "purchase_order": "A purchase order placed by a buyer with a supplier.",
    "legal_contract": "A legal agreement setting out the parties' obligations.",
    "support_email": "A customer message asking for help.",
    "resume": "A resume describing a person's experience and skills.",
    "other": "A document of no recognised business type.",
}


def classify_text(text: str) -> tuple[str, float]:
    """Return the document type whose cue words occur most often, with a confidence.

    Args:
        text: The document text.

    Returns:
        (doc_type, confidence); "other" when no cue occurs at least twice.
    """
    scores = {label: len(pattern.findall(text[:20_000])) for label, pattern in _CUES.items()}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < 2:
        return "other", 0.4
    return best, round(min(0.95, 0.5 + 0.45 * (top - second) / top), 2)


def classify_document(ctx: PromptContext) -> dict[str, Any]:
    """Answer DocumentClassification by cue words over the `<document>` text."""
    doc_type, confidence = classify_text(_text(ctx))
    return {"doc_type": doc_type, "confidence": confidence, "summary": _SUMMARY[doc_type]}


# --- entities -----------------------------------------------------------------------------

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)? "
    + _MONTHS
    + r",? \d{4}|"
    + _MONTHS
    + r"\.? \d{1,2}(?:st|nd|rd|th)?, \d{4}|\d{1,2}[/.]\d{1,2}[/.]\d{4})\b"
)
_IDENTIFIER = re.compile(r"(?<![\w-])[A-Z]{2,5}(?:-[A-Z0-9]{1,12}){1,3}(?![\w-])")
_CODES = "USD|EUR|GBP|CHF|JPY|CAD|AUD"
_NUMBER = r"\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    r"(?P<sym>[$€£¥])\s?(?P<n1>"
    + _NUMBER
    + r")|\b(?P<pre>"
    + _CODES
    + r")\s?(?P<n2>"
    + _NUMBER
    + r")|(?P<n3>"
    + _NUMBER
    + r")\s?(?:(?P<post>"
    + _CODES
    + r")\b|(?P<psym>€|£))"
)
_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_SUFFIX = r"(?:Inc\.|Ltd\.?|LLC|GmbH|S\.A\.|plc|Corp\.?|Corporation|Limited|AG|B\.V\.|SARL|AB|Co\.)"
_ORG = re.compile(r"\b[A-Z][\w&'-]*[ ](?:(?:[A-Z][\w&'-]*|&)[ ]){0,3}" + _SUFFIX + r"(?![\w])")
_PERSON_CUE = re.compile(
    r"(?:Attn:|Attention:|Name:|By:|Signed by:|Signature:|Contact:|Dear|Approved by:|"
    r"Requested by:|Prepared by:|Buyer:|(?i:regards|sincerely|thanks|cheers),|Mr\.|Ms\.|"
    r"Mrs\.|Dr\.)[ \t\n]*"
    r"(?P<name>[A-Z][a-z]+(?: [A-Z]\.)?(?: [A-Z][a-z'-]+){1,2})\b"
)
_HEADING_NAME = re.compile(r"[A-Z][a-z]+(?: [A-Z][a-z'-]+){1,2}(?=\n)")
"""A name alone on the first line (a resume's heading)."""
_NOT_PEOPLE = frozenset({"Team", "Department", "Support", "Customer", "Sir", "Madam", "Agreement"})
_ADDRESS = re.compile(
    r"\b\d{1,5} (?:[A-Z][a-z]+ ){1,3}(?:Street|St\.|Avenue|Ave\.|Road|Rd\.|Boulevard|Blvd\.|"
    r"Lane|Drive|Way|Court|Place|Square)(?:, (?:[A-Z][a-z]+ ?){1,3})?(?:,? [A-Z]{2} \d{5})?|"
    r"\b[A-Z][a-zäöü]+(?:straße|strasse|weg|gasse|platz) \d{1,4}[a-z]?(?:, \d{4,5} [A-Z][a-zäöü]+)?"
)
_ROLE_LABELS = (
    ("subtotal", re.compile(r"sub-?\s?total|net amount", re.I)),
    ("tax", re.compile(r"\b(tax|vat|gst|hst)\b", re.I)),
    ("total", re.compile(r"\btotal\b|amount due|balance due|grand total", re.I)),
)
_ITEM_LINE = re.compile(r"^\s*(?:[-*|•]|\d+[.)]\s|\d+\s?x\s)|\s\d+\s?x\s|\s@\s", re.I)


def parse_number(raw: str) -> float:
    """Parse a written number: `1,234.56`, `1.234,56`, `1 234` or `12,5`.

    The last separator followed by one or two digits is the decimal mark; any other
    separator groups thousands.
    """
    digits = raw.replace(" ", "").replace("'", "")
    match = re.search(r"[.,](\d{1,2})$", digits)
    if match:
        whole = re.sub(r"[.,]", "", digits[: match.start()])
        return float(f"{whole}.{match.group(1)}")
    return float(re.sub(r"[.,]", "", digits))


def _amount_role(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    label = text[line_start:start]
    for role, pattern in _ROLE_LABELS:
        if pattern.search(label):
            return role
    ends_line = not text[end : line_start + len(line)].strip(" |.;")
    if len(line) <= 120 and ends_line and _ITEM_LINE.search(line):
        return "line_item"
    return "other"


def _amount(text: str, match: re.Match[str]) -> dict[str, Any]:
    number = match.group("n1") or match.group("n2") or match.group("n3")
    symbol = match.group("sym") or match.group("psym")
    currency = _SYMBOL[symbol] if symbol else (match.group("pre") or match.group("post"))
    role = _amount_role(text, *match.span())
    return {"value": parse_number(number), "currency": currency, "role": role}


def find_entities(text: str) -> list[dict[str, Any]]:
    """Find identifiers, amounts, dates, addresses, organisations and people in `text`.

    Earlier kinds win over later ones when two spans overlap. Every span is exact:
    `text[start:end] == entity["text"]`.

    Args:
        text: The (chunk) text.

    Returns:
        Entity-shaped dicts in order of appearance, at most `MAX_ITEMS`.
    """
    found: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int, **extra: Any) -> None:
        if end <= start or any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append({"kind": kind, "text": text[start:end], "start": start, "end": end, **extra})

    for match in _IDENTIFIER.finditer(text):
        if any(ch.isdigit() for ch in match.group(0)):
            add("identifier", *match.span())
    for match in _AMOUNT.finditer(text):
        add("amount", *match.span(), **_amount(text, match))
    for pattern, kind in ((_DATE, "date"), (_ADDRESS, "address"), (_ORG, "organization")):
        for match in pattern.finditer(text):
            add(kind, *match.span())
    heading = _HEADING_NAME.match(text)
    if heading:
        add("person", *heading.span())
    for match in _PERSON_CUE.finditer(text):
        if match.group("name").split()[-1] not in _NOT_PEOPLE:
            add("person", *match.span("name"))
    found.sort(key=lambda entity: entity["start"])
    return found[:MAX_ITEMS]


def extract_document_entities(ctx: PromptContext) -> dict[str, Any]:
    """Answer ExtractedEntities with regular expressions over the `<document>` text."""
    return {"entities": find_entities(_text(ctx))}


# --- relationships ------------------------------------------------------------------------

_CONTRACT_ID = re.compile(r"^(?:CTR|MSA|AGR|SOW|NDA|CON|LSA|SLA)-")
_PAYER_CUE = re.compile(r"(bill(ed)? to|buyer|customer|client|sold to)\W{0,3}$", re.I)


def find_relationships(text: str, entities: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Link the entities found in `text` (contract parties, payer, dates, references).

    Args:
        text: The (chunk) text.
        entities: Entities found in it (see `find_entities`).

    Returns:
        Relationship-shaped dicts whose endpoints are texts of `entities`, at most `MAX_ITEMS`.
    """
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        by_kind.setdefault(entity["kind"], []).append(entity)
    ids = by_kind.get("identifier", [])
    orgs = by_kind.get("organization", [])
    people = by_kind.get("person", [])
    dates = by_kind.get("date", [])
    amounts = by_kind.get("amount", [])
    contracts = [e["text"] for e in ids if _CONTRACT_ID.match(e["text"])]
    links: list[dict[str, str]] = []

    def link(kind: str, source: str, target: str) -> None:
        item = {"kind": kind, "source": source, "target": target}
        if source != target and item not in links:
            links.append(item)

    if contracts:
        for party in orgs + people:
            link("party_to", party["text"], contracts[0])
        for person in people:
            link("signed_by", contracts[0], person["text"])
    totals = [a for a in amounts if a.get("role") == "total"]
    payer = _payer(text, orgs + people)
    if payer is not None and totals:
        link("pays", payer, totals[-1]["text"])
    for ident in ids:
        near = [d for d in dates if _same_line(text, ident["start"], d["start"])]
        if near:
            link("dated", ident["text"], near[0]["text"])
    if ids and dates and not any(link["kind"] == "dated" for link in links):
        link("dated", ids[0]["text"], dates[0]["text"])
    for other in ids[1:]:
        link("references", ids[0]["text"], other["text"])
    return links[:MAX_ITEMS]


def _payer(text: str, parties: list[dict[str, Any]]) -> str | None:
    """Return the party written right after a `Bill to:`-style label, if any."""
    for party in sorted(parties, key=lambda e: e["start"]):
        before = text[max(0, party["start"] - 40) : party["start"]]
        if _PAYER_CUE.search(before):
            return str(party["text"])
    return None


def _same_line(text: str, a: int, b: int) -> bool:
    low, high = min(a, b), max(a, b)
    return "\n" not in text[low:high]


def extract_relationships(ctx: PromptContext) -> dict[str, Any]:
    """Answer ExtractedRelationships from the entities the heuristic finds in `<document>`."""
    text = _text(ctx)
    return {"relationships": find_relationships(text, find_entities(text))}


def _text(ctx: PromptContext) -> str:
    return ctx.document if ctx.document is not None else ctx.text


DOCUMENT_HEURISTICS: dict[str, Callable[[PromptContext], dict[str, Any]]] = {
    "DocumentClassification": classify_document,
    "ExtractedEntities": extract_document_entities,
    "ExtractedRelationships": extract_relationships,
}
"""Heuristic answer for each document schema name (merged into `heuristics.HEURISTICS`)."""
