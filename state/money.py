"""Money in integer cents: the one conversion the store, the gates and the audit share."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext


def to_cents(amount: float | int | str | Decimal) -> int:
    """Convert an amount to integer cents, rounding half up.

    Args:
        amount: The amount in currency units.

    Returns:
        The amount in cents.

    Raises:
        ValueError: When the amount is not a finite number, or too large to be one (its
            cents would need more than 400 digits; every finite float fits).
    """
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    # The default context (28 digits) cannot quantize 1e26 or more: give every float room.
    with localcontext() as context:
        context.prec = 400
        try:
            return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        except InvalidOperation as exc:
            raise ValueError(f"amount too large: {amount!r}") from exc


def from_cents(cents: int) -> float:
    """Convert integer cents to a float rounded to 2 decimals."""
    return round(cents / 100, 2)
