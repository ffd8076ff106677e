"""Policy gate: the refund rules a decision must obey before the ledger may act on it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from state.money import to_cents
from state.schemas import Facts, OrderFacts, PolicyFacts, RefundDecision, Violation


@dataclass(frozen=True)
class RefundPolicy:
    """The refund policy in force."""

    eligible_statuses: tuple[str, ...] = ("delivered", "damaged", "lost")
    """Order statuses for which a refund may be issued."""
    max_age_days: int = 90
    """Oldest order, in days between its date and today, that may still be refunded."""
    auto_approve_limit: float = 50.00
    """Largest refund issued without a human's approval."""
    max_refunds_per_order: int = 1
    """How many refunds one order may receive."""

    def to_facts(self) -> PolicyFacts:
        """The policy as the `policy` part of `Facts`."""
        return PolicyFacts(
            eligible_statuses=list(self.eligible_statuses),
            max_age_days=self.max_age_days,
            auto_approve_limit=self.auto_approve_limit,
            max_refunds_per_order=self.max_refunds_per_order,
        )

    @classmethod
    def from_facts(cls, facts: PolicyFacts) -> RefundPolicy:
        """Build the policy from the `policy` part of `Facts`."""
        return cls(
            eligible_statuses=tuple(facts["eligible_statuses"]),
            max_age_days=int(facts["max_age_days"]),
            auto_approve_limit=float(facts["auto_approve_limit"]),
            max_refunds_per_order=int(facts["max_refunds_per_order"]),
        )


def refund_idempotency_key(ticket_id: str, order_id: str) -> str:
    """The ledger key of the refund a ticket issues for an order.

    The policy gate and the action that writes to the ledger both use this, so that a
    replayed node finds its own refund instead of counting it as a second one.

    Args:
        ticket_id: The ticket asking for the refund.
        order_id: The order as the store spells it (`facts["order"]["order_id"]`).

    Returns:
        The key, `refund:{ticket_id}:{order_id}`.
    """
    return f"refund:{ticket_id}:{order_id}"


def parse_day(value: str) -> date | None:
    """Parse an ISO date or datetime to its date; `None` when it is not one."""
    try:
        return datetime.fromisoformat(value).date()
    except (TypeError, ValueError):
        return None


def order_age_days(order: OrderFacts, today: str) -> int | None:
    """Days from the order's date to `today`; `None` when either date is unreadable."""
    ordered, now = parse_day(order["ordered_at"]), parse_day(today)
    if ordered is None or now is None:
        return None
    return (now - ordered).days


def _policy_violation(field: str, message: str) -> Violation:
    return Violation(kind="policy", field=field, message=message)


def check_refund_policy(
    decision: RefundDecision,
    facts: Facts,
    customer_id: str,
    ticket_id: str,
    policy: RefundPolicy | None = None,
) -> list[Violation]:
    """Check an approving decision against the refund policy; a denial always passes.

    Rules: the order exists and belongs to `customer_id`; its status is eligible; its age
    (`facts["today"]` minus its date) is at most `max_age_days`; it has fewer refunds
    than `max_refunds_per_order`, not counting this ticket's own refund being replayed
    (same idempotency key); the amount is above zero and at most the order total, in
    cents. Unreadable dates fail the age rule: a gate that cannot tell refuses.

    Args:
        decision: The validated decision.
        facts: What gather_context found in the store.
        customer_id: The customer who wrote the ticket.
        ticket_id: The ticket, for the idempotency key of its refund.
        policy: The policy to apply; by default the one in `facts["policy"]`.

    Returns:
        One `policy` violation per broken rule.
    """
    if not decision.approve:
        return []
    policy = policy if policy is not None else RefundPolicy.from_facts(facts["policy"])
    violations: list[Violation] = []
    if not math.isfinite(decision.amount) or to_cents(decision.amount) <= 0:
        violations.append(_policy_violation("amount", "an approved refund must be above zero"))
    order = facts["order"]
    if order is None:
        violations.append(_policy_violation("approve", "no such order in the store"))
        return violations
    if order["customer_id"] != customer_id:
        violations.append(
            _policy_violation("approve", f"order {order['order_id']} is not this customer's")
        )
    if order["status"] not in policy.eligible_statuses:
        violations.append(
            _policy_violation(
                "approve",
                f"order status {order['status']!r} is not one of {list(policy.eligible_statuses)}",
            )
        )
    age = order_age_days(order, facts["today"])
    if age is None:
        violations.append(_policy_violation("approve", "order age cannot be determined"))
    elif age < 0:
        violations.append(
            _policy_violation("approve", f"the ticket is dated {-age} days before the order")
        )
    elif age > policy.max_age_days:
        violations.append(
            _policy_violation(
                "approve", f"order is {age} days old; the limit is {policy.max_age_days}"
            )
        )
    own_key = refund_idempotency_key(ticket_id, order["order_id"])
    earlier = [r for r in facts["prior_refunds"] if r["idempotency_key"] != own_key]
    if len(earlier) >= policy.max_refunds_per_order:
        violations.append(
            _policy_violation(
                "approve",
                f"order already has {len(earlier)} refund(s); "
                f"the limit is {policy.max_refunds_per_order}",
            )
        )
    if math.isfinite(decision.amount) and to_cents(decision.amount) > to_cents(order["total"]):
        violations.append(
            _policy_violation(
                "amount",
                f"refund {decision.amount:.2f} exceeds the order total {order['total']:.2f}",
            )
        )
    return violations


def requires_human_approval(decision: RefundDecision, policy: RefundPolicy) -> bool:
    """Tell whether an approved refund is above the auto-approve limit.

    Args:
        decision: The validated decision.
        policy: The policy in force.

    Returns:
        True when the decision approves more than `policy.auto_approve_limit` (in cents).
    """
    return decision.approve and to_cents(decision.amount) > to_cents(policy.auto_approve_limit)
