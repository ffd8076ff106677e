"""The fair baseline: what a competent developer writes with plain langchain-openai, no Conductor.

The same prompts, schemas and models as the graph, called in sequence through `ChatOpenAI`
with the client's default retries (`max_retries=2`), the same store API for refunds
(`Store.issue_refund` with its idempotency key, which refuses another customer's order, a
foreign currency, an amount above the total and a second refund of an order), and no gates,
no triggers, no escalation. A ticket that raises is retried whole, as often as the graph's
parked runs are resumed; what still raises is lost.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from nodes.prompts import render_sections
from nodes.support.context import build_facts
from nodes.support.prompts import (
    CLASSIFY_INTENT_PROMPT,
    DECIDE_REFUND_PROMPT,
    DRAFT_REPLY_PROMPT,
    EXTRACT_ENTITIES_PROMPT,
    ticket_text,
)
from simulator.app import create_app
from simulator.engine import Simulator
from state.schemas import (
    REFUND_INTENTS,
    IntentClassification,
    RefundDecision,
    ReplyDraft,
    Ticket,
    TicketEntities,
)
from store.db import Store
from validators.policy import RefundPolicy, refund_idempotency_key

DEFAULT_MAX_RETRIES = 2
"""The openai client's default: what a developer gets without asking."""


def agent_messages(system: str, **sections: Any) -> list[BaseMessage]:
    """The chain's prompt: the agent's instructions and its delimited sections (as the graph's)."""
    return [SystemMessage(system), HumanMessage(render_sections(**sections))]


@dataclass
class NaiveChain:
    """classify → extract → look up → decide → refund → reply, in sequence, nothing between.

    Attributes:
        sim: The simulated endpoint (the same one the graph is measured on).
        store: The store and its ledger (the same API the graph's action uses).
        large_only: Every call on the large tier (as the graph's `all-large` variant).
        tokens: Tokens spent, by `{tier}:in` / `{tier}:out`.
    """

    sim: Simulator
    store: Store
    large_only: bool = False
    tokens: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.sim)), timeout=60.0
        )
        self._models = {
            tier: ChatOpenAI(
                model=f"sim-{tier}",
                base_url="http://naive.simulator.invalid/v1",
                api_key=SecretStr("naive"),
                max_retries=DEFAULT_MAX_RETRIES,
                http_async_client=self._http,
            )
            for tier in ("small", "large")
        }

    async def _ask(
        self, tier: str, schema: type[BaseModel], messages: list[Any], spent: Counter[str]
    ) -> Any:
        tier = "large" if self.large_only else tier
        raw = (
            await self._models[tier]
            .with_structured_output(schema, method="json_schema", include_raw=True)
            .ainvoke(messages)
        )
        usage = raw["raw"].usage_metadata or {}
        for counter in (self.tokens, spent):
            counter[f"{tier}:in"] += usage.get("input_tokens", 0)
            counter[f"{tier}:out"] += usage.get("output_tokens", 0)
        if raw["parsed"] is None:
            raise ValueError(f"unparseable answer: {raw['parsing_error']}")
        return raw["parsed"]

    async def handle(self, raw_ticket: Mapping[str, Any]) -> dict[str, Any]:
        """Process one ticket; exceptions propagate (the caller retries or counts it lost).

        Returns:
            `{"status": "resolved", "intent", "refund", "tokens"}`; `refund` is the ledger row
            or None, `tokens` what this ticket spent by `{tier}:in` / `{tier}:out`.
        """
        spent: Counter[str] = Counter()
        ticket = Ticket.model_validate(dict(raw_ticket)).model_dump(mode="json")
        text = ticket_text(ticket["subject"], ticket["body"])
        intent = await self._ask(
            "small",
            IntentClassification,
            agent_messages(CLASSIFY_INTENT_PROMPT, ticket=text),
            spent,
        )
        entities = await self._ask(
            "small", TicketEntities, agent_messages(EXTRACT_ENTITIES_PROMPT, ticket=text), spent
        )
        facts = await asyncio.to_thread(
            build_facts, self.store, ticket, entities.model_dump(), RefundPolicy()
        )
        refund = None
        decision = None
        if intent.intent in REFUND_INTENTS:
            decision = await self._ask(
                "large",
                RefundDecision,
                agent_messages(
                    DECIDE_REFUND_PROMPT,
                    ticket=text,
                    entities=entities.model_dump(),
                    facts=dict(facts),
                ),
                spent,
            )
            order = facts["order"]
            if decision.approve and decision.amount > 0 and order is not None:
                key = refund_idempotency_key(ticket["ticket_id"], order["order_id"])
                refund, _ = await asyncio.to_thread(
                    lambda: self.store.issue_refund(
                        idempotency_key=key,
                        ticket_id=ticket["ticket_id"],
                        order_id=order["order_id"],
                        customer_id=ticket["customer_id"],
                        amount=decision.amount,
                        currency=decision.currency,
                    )
                )
        outcome = {
            "intent": intent.intent,
            "decision": "approved" if refund else ("denied" if decision else "none"),
            "denial_reason": decision.reason_code if decision and not refund else None,
            "refund": {"issued": True, "amount": refund["amount"], "currency": refund["currency"]}
            if refund
            else None,
            "order_status": facts["order"]["status"] if facts["order"] else None,
            "escalated": False,
        }
        await self._ask(
            "small",
            ReplyDraft,
            agent_messages(
                DRAFT_REPLY_PROMPT,
                ticket=text,
                classification=intent.model_dump(),
                outcome=outcome,
            ),
            spent,
        )
        return {"status": "resolved", "intent": intent.intent, "refund": refund, "tokens": spent}

    async def handle_with_recovery(
        self, raw_ticket: Mapping[str, Any], rounds: int, wait_s: float
    ) -> dict[str, Any]:
        """`handle`, retried whole up to `rounds` more times after `wait_s` (as parked runs are).

        Returns:
            The last attempt's result, `{"status": "rejected"}` for a malformed ticket, or
            `{"status": "failed", "error"}` when every attempt raised.
        """
        try:
            Ticket.model_validate(dict(raw_ticket))
        except ValueError:
            return {"status": "rejected", "intent": None, "refund": None}
        error = ""
        for attempt in range(rounds + 1):
            if attempt:
                await asyncio.sleep(wait_s)
            try:
                return await self.handle(raw_ticket)
            except Exception as exc:  # noqa: BLE001 - the naive chain has no finer handling
                error = f"{type(exc).__name__}: {exc}"
        return {"status": "failed", "intent": None, "refund": None, "error": error[:300]}

    def cost_usd(
        self, prices: Mapping[str, tuple[float, float]], tokens: Mapping[str, int] | None = None
    ) -> float:
        """Spend at the registry's prices (USD per million tokens, by tier).

        Args:
            prices: Tier → (price in, price out) per million tokens.
            tokens: Tokens to price; every token this chain spent when None.
        """
        spent = self.tokens if tokens is None else tokens
        total = 0.0
        for tier, (price_in, price_out) in prices.items():
            total += spent.get(f"{tier}:in", 0) * price_in / 1e6
            total += spent.get(f"{tier}:out", 0) * price_out / 1e6
        return total

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()
