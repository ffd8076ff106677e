"""Money in integer cents: the one conversion the store, the gates and the audit share."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


def to_cents(amount: float | int | str | Decimal) -> int:
    """Convert an amount to integer cents, rounding half up.

    Args:
        amount: The amount in currency units.

    Returns:
        The amount in cents.

    Raises:
        ValueError: When the amount is not a finite number.
    """
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> float:
    """Convert integer cents to a float rounded to 2 decimals."""
    return round(cents / 100, 2)
