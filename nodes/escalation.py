"""Human escalation and parking: the two places a support run waits on something outside it."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nodes.common import versioned
from nodes.intake import describe_validation_error
from nodes.supervisor import refund_to_issue
from state.support import SupportState
from telemetry.metrics import mark_released, mark_waiting
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


def check_review_against_facts(review: ReviewDecision, state: SupportState) -> str | None:
    """What makes a well-formed review impossible to carry out, if anything.

    A reviewer may override the policy (that is what they are asked for), never the facts:
    an edited refund needs the customer's own order and cannot exceed its total.
    """
    if review.decision != "edit":
        return None
    facts = state.get("facts")
    order = facts["order"] if facts else None
    ticket = state.get("ticket") or {}
    if not order:
        return "cannot refund: the ticket names no known order"
    if order["customer_id"] != ticket.get("customer_id"):
        return f"cannot refund: order {order['order_id']} belongs to another customer"
    if round((review.amount or 0) * 100) > round(float(order["total"]) * 100):
        return f"amount {review.amount:.2f} exceeds the order total {float(order['total']):.2f}"
    return None


def review_packet(state: SupportState) -> dict[str, Any]:
    """Everything a reviewer needs to decide, without opening the run's state."""
    results = state.get("results") or {}
    escalation = state.get("escalation") or {}
    failing = {
        sid: gate["violations"]
        for sid, gate in (state.get("gates") or {}).items()
        if gate.get("status") == "failed"
    }
    return {
        "kind": "review",
        "reason": escalation.get("reason"),
        "detail": escalation.get("detail") or {},
        "ticket": state.get("ticket"),
        "facts": state.get("facts"),
        "classification": results.get("classify"),
        "entities": results.get("extract"),
        "decision": results.get("decide"),
        "proposed_refund": refund_to_issue(state),
        "violations": failing,
        "resume_with": {
            "decision": "approve|reject|edit",
            "amount": "number, for edit",
            "note": "str",
        },
    }


@versioned
async def escalate_to_human(state: SupportState) -> dict[str, Any]:
    """Wait for a reviewer's decision; an invalid answer is returned to them with the error."""
    packet = review_packet(state)
    error: str | None = None
    mark_waiting("review")
    while True:
        answer = interrupt({**packet, "error": error} if error else packet)
        try:
            review = ReviewDecision.model_validate(answer)
        except ValidationError as exc:
            error = describe_validation_error(exc, prefix="resume")
            continue
        error = check_review_against_facts(review, state)
        if error is None:
            break
    mark_released()
    return {"review": review.model_dump(), "status": "running"}


@versioned
async def park_run(state: SupportState) -> dict[str, Any]:
    """Hold the run, state intact, until its providers are back; then retry what they failed."""
    parked = state.get("parked") or {}
    mark_waiting("parked")
    interrupt({"kind": "parked", **parked})
    mark_released()
    gates = state.get("gates") or {}
    return {
        "parked": None,
        "status": "running",
        "gates": {
            sid: {**gate, "status": "cleared"}
            for sid, gate in gates.items()
            if gate.get("status") == "unavailable"
        },
    }
