"""Context gathering: the customer, the named order and its refunds, from the store (no model)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

from langgraph.runtime import Runtime

from nodes.common import versioned
from nodes.resources import get_store
from nodes.workers import proposal_update
from state.schemas import Facts
from state.support import SupportContext, WorkerTask
from store.db import Store
from validators.policy import RefundPolicy


def policy_from_context(context: SupportContext | None) -> RefundPolicy:
    """The refund policy in force for a run, from its settings."""
    ctx = context or SupportContext()
    return RefundPolicy(
        max_age_days=ctx.max_refund_age_days, auto_approve_limit=ctx.auto_approve_limit
    )


def policy_day(ticket: dict[str, Any]) -> date:
    """The day the policy is evaluated on: the ticket's creation day, never later than today.

    A caller-supplied `created_at` in the future cannot stretch the refund window; one
    before the order was placed makes the order's age negative, which the policy refuses.
    """
    today = datetime.now(UTC).date()
    created = ticket.get("created_at")
    if created:
        return min(datetime.fromisoformat(str(created)).date(), today)
    return today


def build_facts(
    store: Store, ticket: dict[str, Any], entities: dict[str, Any], policy: RefundPolicy
) -> Facts:
    """Look up what the store knows about the ticket's customer and the order it names.

    The order is looked up whoever owns it: the gates, not this lookup, decide whether the
    customer may be refunded for it.
    """
    order_id = (entities.get("order_id") or "").strip().upper()
    order = store.get_order(order_id) if order_id else None
    return {
        "today": policy_day(ticket).isoformat(),
        "customer": store.get_customer(ticket["customer_id"]),
        "order": order,
        "prior_refunds": store.refunds_for_order(order["order_id"]) if order else [],
        "policy": policy.to_facts(),
    }


@versioned
async def gather_context(task: WorkerTask, runtime: Runtime[SupportContext]) -> dict[str, Any]:
    """Gather the facts for the decision from the local store (a tool node, not an agent)."""
    started = time.perf_counter()
    policy = policy_from_context(runtime.context)
    facts = await asyncio.to_thread(
        lambda: build_facts(
            get_store(), task["ticket"], task["results"].get("extract") or {}, policy
        )
    )
    return proposal_update(
        task, output=dict(facts), elapsed_ms=(time.perf_counter() - started) * 1000
    )
