"""Money helpers shared by the gates: exact cents and amounts written in text."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from state.money import to_cents

_NUMBER = r"\d[\d,.]*\d|\d"
_NUMBER_IN_TEXT = re.compile(rf"(?<![\d.,])(?<![A-Za-z]-)({_NUMBER})(?!\d)")
"""A number in free text; not the digits of an id such as `ORD-10042`."""

_CURRENCY_WORD = r"(?:USD|EUR|GBP|dollars?|euros?|pounds?|bucks)"
_MONEY_IN_TEXT = re.compile(
    rf"(?:[$€£]|\b(?:USD|EUR|GBP))\s?({_NUMBER})(?!\d)"
    rf"|(?<![\d.,])({_NUMBER})\s?(?:[$€£]|{_CURRENCY_WORD}\b)",
    re.IGNORECASE,
)
"""A number marked as money by a currency symbol, code or word before or after it."""


def has_sub_cent_precision(value: float) -> bool:
    """Tell whether an amount carries digits below the cent (e.g. 35.001)."""
    return Decimal(str(value)) != Decimal(to_cents(value)) / 100


def _readings(token: str) -> set[Decimal]:
    """Every value a number written as `token` may mean (1,000.50 or 35,00 styles)."""
    values: set[Decimal] = set()
    candidates = [token.replace(",", "")]
    if "," in token and "." not in token and re.fullmatch(r"\d+,\d{1,2}", token):
        candidates.append(token.replace(",", "."))  # decimal comma: 35,00
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", token):
        candidates.append(token.replace(".", "").replace(",", "."))  # 1.000,50
    for candidate in candidates:
        try:
            values.add(Decimal(candidate))
        except InvalidOperation:
            continue
    return values


def numbers_in_text(text: str) -> set[Decimal]:
    """Every number the text states, under each plausible reading of its separators.

    Args:
        text: Free text, such as a ticket or a reply.

    Returns:
        The numbers, as exact decimals (`Decimal("35") == Decimal("35.00")`).
    """
    values: set[Decimal] = set()
    for match in _NUMBER_IN_TEXT.finditer(text):
        values |= _readings(match.group(1))
    return values


def money_in_text(text: str) -> list[set[Decimal]]:
    """The money amounts a text states: numbers next to a currency symbol, code or word.

    Args:
        text: Free text, such as a reply.

    Returns:
        One entry per amount found: the set of values it may mean.
    """
    return [_readings(match.group(1) or match.group(2)) for match in _MONEY_IN_TEXT.finditer(text)]


def money_spans(text: str) -> list[tuple[int, int, set[Decimal]]]:
    """The money amounts a text states, with where each stands.

    Args:
        text: Free text, such as a ticket.

    Returns:
        `(start, end, values)` per amount, in order; `values` are the readings of its number.
    """
    return [
        (match.start(), match.end(), _readings(match.group(1) or match.group(2)))
        for match in _MONEY_IN_TEXT.finditer(text)
    ]


def amount_in(amount: float, values: set[Decimal]) -> bool:
    """Tell whether `amount` equals one of `values` to the cent."""
    return Decimal(to_cents(amount)) / 100 in values
