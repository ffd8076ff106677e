"""The support workflow's one side effect: issuing a refund through the idempotent ledger."""

from __future__ import annotations

import asyncio
from typing import Any

from nodes.resources import Resources
from nodes.spec import State
from store.errors import StoreError
from telemetry.logging import get_logger
from telemetry.metrics import REFUNDS
from validators.policy import refund_idempotency_key

log = get_logger("conductor.actions")


async def issue_refund(resources: Resources, state: State, due: dict[str, Any]) -> dict[str, Any]:
    """Issue the approved refund. Running again (retry, resume, crash) cannot refund twice.

    The idempotency key is derived from the ticket and the order, so a replay finds the
    ledger's record instead of writing a second one.
    """
    ticket = state["ticket"]
    key = refund_idempotency_key(ticket["ticket_id"], due["order_id"])
    try:
        record, created = await asyncio.to_thread(
            lambda: resources.store.issue_refund(
                idempotency_key=key,
                ticket_id=ticket["ticket_id"],
                order_id=due["order_id"],
                customer_id=ticket["customer_id"],
                amount=due["amount"],
                currency=due["currency"],
            )
        )
    except (StoreError, ValueError) as exc:  # refused by the ledger: nothing was written
        log.warning("refund_refused", idempotency_key=key, error=str(exc))
        REFUNDS.labels(outcome="refused").inc()
        return {
            "action_results": {
                "issue_refund": {
                    "amount": 0.0,
                    "currency": due["currency"],
                    "issued": False,
                    "idempotency_key": key,
                    "order_id": due["order_id"],
                }
            },
            "errors": [{"node": "issue_refund", "kind": type(exc).__name__, "message": str(exc)}],
        }
    log.info("refund_issued", idempotency_key=key, created=created, amount=record["amount"])
    REFUNDS.labels(outcome="issued" if created else "replayed").inc()
    refund = {
        "amount": record["amount"],
        "currency": record["currency"],
        "issued": True,
        "idempotency_key": key,
        "order_id": record["order_id"],
        "replayed": not created,
    }
    return {
        "action_results": {"issue_refund": refund},
        "actions": [
            {"kind": "refund", "idempotency_key": key, "created": created, "detail": refund}
        ],
    }
