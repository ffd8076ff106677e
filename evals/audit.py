"""Independent audit of refunds against the policy: what a gate missed, the audit finds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from state.money import to_cents
from state.schemas import OrderFacts
from validators.policy import RefundPolicy


def _day(value: str) -> date:
    return datetime.fromisoformat(value).date()


def audit_refunds(
    refunds: Iterable[Mapping[str, Any]],
    order_of: Callable[[str], OrderFacts | None],
    customer_of_ticket: Mapping[str, str],
    policy: RefundPolicy | None = None,
    reviewed: Iterable[str] = (),
) -> list[str]:
    """Check refunds, however they were issued, against every rule of the refund policy.

    Args:
        refunds: Ledger rows (`ticket_id`, `order_id`, `amount`, `currency`, `issued_at`).
        order_of: Looks an order up in the store.
        customer_of_ticket: The customer who wrote each ticket.
        policy: The policy in force (the default policy when None).
        reviewed: Tickets whose refund a human approved (they may exceed the auto limit).

    Returns:
        One message per violation; empty when every refund is within the policy.
    """
    policy = policy or RefundPolicy()
    approved_by_human = set(reviewed)
    violations: list[str] = []
    per_order: Counter[str] = Counter()
    for refund in refunds:
        ticket, order_id = refund["ticket_id"], refund["order_id"]
        per_order[order_id] += 1
        where = f"{ticket}/{order_id}"
        order = order_of(order_id)
        if order is None:
            violations.append(f"{where}: refund on an order the store does not have")
            continue
        if order["customer_id"] != customer_of_ticket.get(ticket):
            violations.append(f"{where}: order belongs to {order['customer_id']}, not the writer")
        if refund["currency"] != order["currency"]:
            violations.append(
                f"{where}: refund in {refund['currency']}, order in {order['currency']}"
            )
        if to_cents(refund["amount"]) > to_cents(order["total"]):
            violations.append(
                f"{where}: {refund['amount']:.2f} exceeds the total {order['total']:.2f}"
            )
        if order["status"] not in policy.eligible_statuses:
            violations.append(f"{where}: order status {order['status']!r} is not eligible")
        age = (_day(refund["issued_at"]) - _day(order["ordered_at"])).days
        if age > policy.max_age_days:
            violations.append(f"{where}: order was {age} days old (limit {policy.max_age_days})")
        if (
            to_cents(refund["amount"]) > to_cents(policy.auto_approve_limit)
            and ticket not in approved_by_human
        ):
            violations.append(
                f"{where}: {refund['amount']:.2f} above the auto-approve limit, no review"
            )
    for order_id, count in per_order.items():
        if count > policy.max_refunds_per_order:
            violations.append(f"{order_id}: refunded {count} times")
    return violations


def duplicate_refunds(refunds: Iterable[Mapping[str, Any]]) -> int:
    """Refunds beyond the first for the same ticket or the same order."""
    rows = list(refunds)
    by_order = Counter(r["order_id"] for r in rows)
    by_ticket = Counter(r["ticket_id"] for r in rows)
    return max(sum(n - 1 for n in by_order.values()), sum(n - 1 for n in by_ticket.values()))
