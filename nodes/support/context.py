"""Context gathering: the customer, the named order and its refunds, from the store (no model)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from nodes.resources import Resources
from nodes.spec import State
from state.schemas import Facts
from state.support import SupportContext
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


def context_input(state: State, item: Mapping[str, Any] | None) -> dict[str, Any]:
    """The tool's input: the ticket and the extractor's gated entities."""
    return {
        "ticket": state["ticket"],
        "entities": (state.get("results") or {}).get("extract") or {},
    }


async def gather_context(
    resources: Resources, tool_input: dict[str, Any], settings: SupportContext | None
) -> dict[str, Any]:
    """Gather the facts for the decision from the local store (a tool, not an agent)."""
    policy = policy_from_context(settings)
    facts = await asyncio.to_thread(
        lambda: build_facts(resources.store, tool_input["ticket"], tool_input["entities"], policy)
    )
    return dict(facts)
