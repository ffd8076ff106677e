"""Plausibility gate: values in range, and a decision's facts checked against the store."""

from __future__ import annotations

import math
import re
from typing import get_args

from state.money import to_cents
from state.schemas import Currency, Facts, RefundDecision, TicketEntities, Violation
from validators.money import has_sub_cent_precision

ORDER_ID_SHAPE = re.compile(r"ORD-\d{5}", re.IGNORECASE)
"""Shape of an order id (the store's ids are upper case; tickets may not be)."""

KNOWN_CURRENCIES: frozenset[str] = frozenset(get_args(Currency))
"""Currencies the shop trades in."""

MAX_PLAUSIBLE_AMOUNT = 1_000_000
"""Amounts at or above this are never plausible for the shop."""


def _implausible(field: str, message: str) -> Violation:
    return Violation(kind="plausibility", field=field, message=message)


def check_entities_plausible(entities: TicketEntities) -> list[Violation]:
    """Check extracted entities for values no ticket of the shop can state.

    Args:
        entities: The validated entities.

    Returns:
        One `plausibility` violation per implausible field: an amount that is not a
        finite number in [0, 1,000,000), an order id not shaped `ORD-` and five digits,
        an unknown currency.
    """
    violations: list[Violation] = []
    amount = entities.amount
    if amount is not None and not (math.isfinite(amount) and 0 <= amount < MAX_PLAUSIBLE_AMOUNT):
        violations.append(
            _implausible("amount", f"amount {amount!r} is outside [0, {MAX_PLAUSIBLE_AMOUNT:,})")
        )
    if entities.order_id is not None and not ORDER_ID_SHAPE.fullmatch(entities.order_id):
        violations.append(
            _implausible("order_id", f"order id {entities.order_id!r} is not shaped ORD-NNNNN")
        )
    if entities.currency is not None and entities.currency not in KNOWN_CURRENCIES:
        violations.append(
            _implausible("currency", f"currency {entities.currency!r} is not one we trade in")
        )
    return violations


def check_decision_plausible(
    decision: RefundDecision, facts: Facts, customer_id: str
) -> list[Violation]:
    """Check a refund decision against the store's facts.

    An approval must name an existing order of `customer_id`, in its currency, for at
    most its total; a denial must refund nothing. Amounts are compared in cents and may
    not carry digits below the cent.

    Args:
        decision: The validated decision.
        facts: What gather_context found in the store.
        customer_id: The customer who wrote the ticket.

    Returns:
        One `plausibility` violation per implausible value.
    """
    amount = decision.amount
    if not (math.isfinite(amount) and 0 <= amount < MAX_PLAUSIBLE_AMOUNT):
        return [_implausible("amount", f"amount {amount!r} is not a plausible refund")]
    violations: list[Violation] = []
    if has_sub_cent_precision(amount):
        violations.append(_implausible("amount", f"amount {amount!r} has digits below the cent"))
    if not decision.approve:
        if to_cents(amount) != 0:
            violations.append(_implausible("amount", "a denied refund must have amount 0"))
        return violations
    order = facts["order"]
    if order is None:
        violations.append(
            _implausible("approve", "approves a refund for an order not in the store")
        )
        return violations
    if order["customer_id"] != customer_id:
        violations.append(
            _implausible(
                "approve", f"order {order['order_id']} does not belong to customer {customer_id}"
            )
        )
    if to_cents(amount) > to_cents(order["total"]):
        violations.append(
            _implausible(
                "amount", f"refund {amount:.2f} exceeds the order total {order['total']:.2f}"
            )
        )
    if decision.currency != order["currency"]:
        violations.append(
            _implausible(
                "currency",
                f"refund currency {decision.currency} differs from the order's {order['currency']}",
            )
        )
    return violations
