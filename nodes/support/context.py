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
from validators.policy import RefundPolicy, refund_idempotency_key


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

    A refund in the ledger under this ticket's own idempotency key is this ticket's refund
    (issued by an earlier attempt of the same run, a crashed process, or a second process
    handling the same ticket): it is not a prior refund. It is left out of `prior_refunds`
    and given as `own_refund` (present only when there is one), so that a replay reaches the
    same outcome, issued, as the first attempt did.
    """
    order_id = (entities.get("order_id") or "").strip().upper()
    order = store.get_order(order_id) if order_id else None
    refunds = store.refunds_for_order(order["order_id"]) if order else []
    own_key = refund_idempotency_key(ticket["ticket_id"], order["order_id"]) if order else None
    facts: Facts = {
        "today": policy_day(ticket).isoformat(),
        "customer": store.get_customer(ticket["customer_id"]),
        "order": order,
        "prior_refunds": [r for r in refunds if r["idempotency_key"] != own_key],
        "policy": policy.to_facts(),
    }
    own = [r for r in refunds if r["idempotency_key"] == own_key]
    if own:
        facts["own_refund"] = own[0]
    return facts


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
