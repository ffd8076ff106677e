"""What the ticket itself asks for, read conservatively: a refund or not, which amount, which order.

An independent reading for the gates, written without the simulator's parsers: when the
text does not settle a question beyond doubt, the answer is "unclear" and the gate sends the
ticket to a human rather than pay.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from validators.money import money_spans

Reading = Literal["yes", "no", "unclear"]

_SENTENCE_END = re.compile(r"[!?\n;]|\.(?!\d)")
"""Where a sentence ends (a decimal point does not end it)."""

_ASKS_MONEY = re.compile(
    r"\brefund|\breimburs|\bmoney\s+back\b|\bcompensat|\bcharge\s?back\b|\bdifference\b"
    r"|\bcredit\s+(?:me|my|it|the)\b|\b(?:send|give|pay|get|want|expect|like)\b[^.!?\n]{0,30}\bback\b"
    r"|\d(?:\s*[$€£]|\s*[A-Za-z]{3,7})?\s+back\b"
    r"|\breturn\s+(?:what\s+i\s+paid|the\s+money|my\s+money)"
    r"|\breturn\b[^!?\n]{0,25}?\bto\s+my\s+(?:card|account)",
    re.IGNORECASE,
)
"""A request for money: refund, reimburse, money back, X back, credit me, the difference."""

_ASKS_GOODS = re.compile(
    r"\breplace(?:ment|d)?\b|\bexchang\w*|\bnew\s+(?:one|unit|set|pair)\b|\banother\s+one\b"
    r"|\bsend\s+(?:it|them|another)\b[^.!?\n]{0,15}\bagain\b|\bship\s+(?:a\s+)?new\b"
    r"|\bstore\s+credit\b|\bsend\s+(?:it|them)\s+again\b|\bswap\b",
    re.IGNORECASE,
)
"""A request for goods instead: a replacement, an exchange, a new one, store credit."""

_REFUSES_MONEY = re.compile(
    r"\b(?:no|not\s+(?:after\s+)?a|without\s+a)\s+refund\b|\bnot\s+after\s+a\s+refund"
    r"|\b(?:don'?t|do\s+not)\s+want\s+(?:my\s+|the\s+|a\s+)?(?:money|refund)"
    r"|\binstead\s+of\s+(?:a\s+)?refund\w*|\brather\s+than\s+(?:a\s+)?refund\w*"
    r"|\bthan\s+refunded\b|\binstead\s+of\s+(?:a\s+|my\s+)?(?:money|refund)",
    re.IGNORECASE,
)
"""Money explicitly declined: "no refund needed", "I don't want my money back"."""

_PAID = re.compile(
    r"\b(?:paid|charged|cost|costs|priced|listed|bought|spent|was|were|price|total)\b"
    r"[^.!?\n]{0,25}$",
    re.IGNORECASE,
)
"""Words just before an amount that mark it as a price paid, not an amount asked."""

_PAID_AFTER = re.compile(
    r"^\s*(?:that\s+)?(?:i|we)\s+(?:paid|was\s+charged|spent)\b", re.IGNORECASE
)
"""Words just after an amount that mark it as a price paid ("£18.75 I paid")."""

REQUEST_WORDS = ("refund", "reimburse", "credit", "return", "money", "back", "difference")
"""Words a request for money hangs on; a word with two letters swapped still counts."""

_WORD = re.compile(r"[A-Za-z]+")


_ANAGRAMS = {(w[0], len(w), "".join(sorted(w))): w for w in REQUEST_WORDS}
"""A request word by (first letter, length, sorted letters): a swap keeps all three."""


@functools.lru_cache(maxsize=16)
def untangle(text: str) -> str:
    """Undo common typos in the request words: two letters swapped ("refnud" → "refund").

    Pure, and called several times on the same text within one gate pass, so its last
    answers are memoised (a few: a larger cache would grow with the tickets in flight).
    """

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        stem = word.lower()
        for size in range(len(stem), 3, -1):
            key = _ANAGRAMS.get((stem[0], size, "".join(sorted(stem[:size]))))
            if key is not None:
                return key + word[size:]
        return word

    return _WORD.sub(fix, text)


ORDER_ID_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])ORD-\d{5}(?![0-9])", re.IGNORECASE)


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        bounds.append((start, match.end()))
        start = match.end()
    bounds.append((start, len(text)))
    return [(a, b) for a, b in bounds if text[a:b].strip()]


def refund_requested(text: str) -> Reading:
    """Tell whether the ticket asks for money back.

    Args:
        text: The ticket's subject and body.

    Returns:
        "no" when it asks for goods (a replacement, an exchange) or declines money, "yes"
        when it asks for money and not for goods, "unclear" otherwise (both, or neither).
    """
    text = untangle(text)
    money = bool(_ASKS_MONEY.search(text))
    goods = bool(_ASKS_GOODS.search(text))
    declined = bool(_REFUSES_MONEY.search(text))
    if declined or (goods and not money):
        return "no"
    if money and not goods:
        return "yes"
    return "unclear"


@dataclass(frozen=True)
class AskedAmount:
    """The amount a ticket asks for.

    Attributes:
        kind: "none" when the ticket states no money amount (the whole order is asked),
            "one" when one amount is asked, "unclear" when it cannot be told which.
        readings: The values the asked amount may mean (`35,00` → 35.00), when "one".
    """

    kind: Literal["none", "one", "unclear"]
    readings: frozenset[Decimal] = frozenset()


def asked_amount(text: str) -> AskedAmount:
    """Read the amount a ticket asks to be refunded, conservatively.

    Every money amount (a number next to a currency symbol, code or word) is a candidate. One
    value in the whole text is the amount asked. With several, the candidates are those in a
    sentence that asks for money, less those marked as a price paid ("I paid $80 ..."); exactly
    one value left is the amount asked, anything else is unclear.

    Args:
        text: The ticket's subject and body.

    Returns:
        What is asked.
    """
    text = untangle(text)
    spans = money_spans(text)
    if not spans:
        return AskedAmount("none")
    values = {frozenset(readings) for _, _, readings in spans}
    if len(values) == 1:
        return AskedAmount("one", next(iter(values)))
    asked: set[frozenset[Decimal]] = set()
    for start, end in _sentences(text):
        if not _ASKS_MONEY.search(text[start:end]):
            continue
        for a, b, readings in spans:
            paid = _PAID.search(text[start:a]) or _PAID_AFTER.search(text[b:end])
            if start <= a < end and not paid:
                asked.add(frozenset(readings))
    if len(asked) == 1:
        return AskedAmount("one", next(iter(asked)))
    return AskedAmount("unclear")


def order_asked_about(text: str) -> tuple[Reading, str | None]:
    """Which order the refund is asked on, when the ticket names more than one.

    Args:
        text: The ticket's subject and body.

    Returns:
        ("yes", id) when the ticket names one order, or several of which exactly one sits in
        a sentence asking for money; ("no", None) when it
        names none; ("unclear", None) otherwise.
    """
    text = untangle(text)
    named = {m.group(0).upper() for m in ORDER_ID_IN_TEXT.finditer(text)}
    if not named:
        return "no", None
    if len(named) == 1:
        return "yes", next(iter(named))
    near: set[str] = set()
    for start, end in _sentences(text):
        if _ASKS_MONEY.search(text[start:end]):
            near |= {m.group(0).upper() for m in ORDER_ID_IN_TEXT.finditer(text, start, end)}
    if len(near) == 1:
        return "yes", next(iter(near))
    return "unclear", None
