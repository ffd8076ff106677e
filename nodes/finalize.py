"""Finalize: the run's outcome in the output fields, and its count in the metrics."""

from __future__ import annotations

from typing import Any

from nodes.common import versioned
from state.support import SupportState
from telemetry.logging import get_logger
from telemetry.metrics import WORKFLOWS

log = get_logger("conductor.finalize")

HOLDING_REPLY = (
    "Thank you for your message. A member of our support team has reviewed your request "
    "and will follow up with you shortly."
)
"""Sent when no drafted reply passed its gate (a human reviewed the run instead)."""


def final_status(state: SupportState) -> str:
    """`rejected` for a ticket refused at intake or by the reviewer, else `resolved`."""
    if state.get("status") == "rejected" and not state.get("plan"):
        return "rejected"
    review = state.get("review")
    if review is not None and review.get("decision") == "reject":
        return "rejected"
    return "resolved"


@versioned
async def finalize_run(state: SupportState) -> dict[str, Any]:
    """Write the output fields a caller reads last: status, reply, refund, escalation reason."""
    results = state.get("results") or {}
    status = final_status(state)
    reply = (results.get("reply") or {}).get("reply")
    if reply is None and state.get("plan"):
        reply = HOLDING_REPLY
    escalation = state.get("escalation") or {}
    WORKFLOWS.labels(graph="support", status=status).inc()
    log.info("workflow_finished", status=status, ticket_id=state.get("ticket_id"))
    return {
        "status": status,
        "reply": reply,
        "refund": state.get("refund"),
        "escalation_reason": escalation.get("reason"),
    }
