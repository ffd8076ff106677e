"""The support workflow's review: the packet a reviewer sees and the answers it accepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nodes.spec import State
from nodes.support.rules import facts, needs_decision, refund_to_issue
from validators.money import has_sub_cent_precision


class ReviewDecision(BaseModel):
    """A reviewer's answer to an escalation (the value passed to `Command(resume=...)`)."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "edit"] = Field(
        description="approve the proposed action, reject it (no refund), or edit the amount."
    )
    amount: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Refund amount for `edit`."
    )
    note: str | None = Field(default=None, max_length=2000, description="Reviewer's note.")

    @model_validator(mode="after")
    def _amount_goes_with_edit(self) -> ReviewDecision:
        if self.decision == "edit" and self.amount is None:
            raise ValueError("decision 'edit' needs an amount")
        if self.amount is not None and has_sub_cent_precision(self.amount):
            raise ValueError(f"amount {self.amount!r} has fractions of a cent")
        if self.decision != "edit" and self.amount is not None:
            raise ValueError(f"amount is only accepted with decision 'edit', not {self.decision!r}")
        return self


def check_review_against_facts(review: BaseModel, state: State, settings: Any = None) -> str | None:
    """What makes a well-formed review impossible to carry out, if anything.

    A reviewer may override the policy (that is what they are asked for), never the facts:
    an edited refund needs the customer's own order, cannot exceed its total, and cannot
    repeat a refund the ledger already holds; approving a packet that proposes no refund
    (the run stopped before any decision) approves nothing and is refused.
    """
    assert isinstance(review, ReviewDecision)
    if review.decision == "reject":
        return None
    if review.decision == "approve":
        if refund_to_issue(state) is None and _refund_was_asked(state):
            return (
                "nothing to approve: no refund was proposed (the run stopped before a "
                "decision); answer 'reject', or 'edit' with an amount"
            )
        return None
    order = facts(state).get("order")
    ticket = state.get("ticket") or {}
    if not order:
        return "cannot refund: the ticket names no known order"
    if order["customer_id"] != ticket.get("customer_id"):
        return f"cannot refund: order {order['order_id']} belongs to another customer"
    if round((review.amount or 0) * 100) > round(float(order["total"]) * 100):
        return f"amount {review.amount:.2f} exceeds the order total {float(order['total']):.2f}"
    prior = [
        r
        for r in facts(state).get("prior_refunds") or []
        if r.get("ticket_id") != ticket.get("ticket_id")
    ]
    if prior:
        paid = ", ".join(
            f"{r['amount']:.2f} {r['currency']} (ticket {r['ticket_id']})" for r in prior
        )
        return f"order {order['order_id']} was already refunded: {paid}; answer 'reject'"
    return None


def _refund_was_asked(state: State) -> bool:
    """True when the run stopped before knowing what to do: no intent, or no refund decision."""
    results = state.get("results") or {}
    if results.get("classify") is None:
        return True
    return needs_decision(state) and results.get("decide") is None


def review_packet(state: State) -> dict[str, Any]:
    """Everything a reviewer needs to decide, without opening the run's state."""
    results = state.get("results") or {}
    due = refund_to_issue(state)
    return {
        "summary": (
            f"refund {due['amount']:.2f} {due['currency']} on {due['order_id']}" if due else "-"
        ),
        "ticket": state.get("ticket"),
        "facts": results.get("context"),
        "classification": results.get("classify"),
        "entities": results.get("extract"),
        "decision": results.get("decide"),
        "proposed_refund": refund_to_issue(state),
    }


def settled_by_review(review: Mapping[str, Any], state: State) -> set[str]:
    """A reviewer's decision settles the refund decision: `decide` is not asked after it."""
    return {"decide"}


def is_refusal(review: Mapping[str, Any]) -> bool:
    """A reviewer's `reject` refuses the refund (status `denied`)."""
    return review.get("decision") == "reject"
