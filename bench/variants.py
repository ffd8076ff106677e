"""The variants measured side by side: the same four calls, from bare asyncio to Conductor.

- `raw asyncio`: the openai SDK's `AsyncOpenAI`, classify ∥ extract, decide, reply, by hand;
- `plain LangGraph`: the same graph shape (classify ∥ extract → decide → reply) with
  `with_structured_output`, no gates, telemetry or gateway;
- `conductor support` (and `conductor documents` when that graph exists): the product.

Every variant reads the same store (facts, ledger) and talks to the same in-process
simulator through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from openai import AsyncOpenAI
from pydantic import BaseModel, SecretStr
from typing_extensions import TypedDict

from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from nodes.prompts import render_sections
from nodes.resources import Resources
from nodes.support.context import build_facts
from nodes.support.prompts import (
    CLASSIFY_INTENT_PROMPT,
    DECIDE_REFUND_PROMPT,
    DRAFT_REPLY_PROMPT,
    EXTRACT_ENTITIES_PROMPT,
)
from simulator.app import create_app
from simulator.engine import Simulator
from simulator.transport import simulator_transports
from state.schemas import IntentClassification, RefundDecision, ReplyDraft, TicketEntities
from store.db import Store
from validators.policy import RefundPolicy, refund_idempotency_key

SIM_BASE = "http://sim-{tier}-a.simulator.invalid/v1"


class Variant(Protocol):
    """One way of handling a ticket."""

    name: str
    uses_checkpointer: bool

    def compile(self, checkpointer: Any) -> None:
        """Bind the checkpointer of the next runs (none, in-memory, SQLite, Postgres)."""

    async def handle(self, ticket: dict[str, Any], thread_id: str) -> str:
        """Process one ticket; return its final status."""

    async def aclose(self) -> None:
        """Release clients."""


def _text(ticket: dict[str, Any]) -> str:
    return f"Subject: {ticket['subject']}\n\n{ticket['body']}"


def _outcome(intent: str, refund: dict[str, Any] | None, facts: Any) -> dict[str, Any]:
    order = facts.get("order") or {}
    return {
        "intent": intent,
        "decision": "approved" if refund else "denied",
        "denial_reason": None,
        "refund": {"issued": True, "amount": refund["amount"], "currency": refund["currency"]}
        if refund
        else None,
        "order_status": order.get("status"),
        "escalated": False,
    }


async def _issue(store: Store, ticket: dict[str, Any], entities: dict[str, Any], d: Any) -> Any:
    """Write the refund to the same idempotent ledger Conductor uses."""
    if not (d.approve and d.amount > 0):
        return None
    order_id = (entities.get("order_id") or "").upper()
    record, _ = await asyncio.to_thread(
        lambda: store.issue_refund(
            idempotency_key=refund_idempotency_key(ticket["ticket_id"], order_id),
            ticket_id=ticket["ticket_id"],
            order_id=order_id,
            customer_id=ticket["customer_id"],
            amount=d.amount,
            currency=d.currency,
        )
    )
    return record


class RawAsyncio:
    """Four calls with `AsyncOpenAI` and `asyncio.gather`: the floor of what a ticket costs."""

    name = "raw asyncio"
    uses_checkpointer = False

    def __init__(self, sim: Simulator, store: Store) -> None:
        """One openai client per tier, onto the simulator's app in-process."""
        self._store = store
        app = create_app(sim)
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        self._clients = {
            tier: AsyncOpenAI(
                base_url=SIM_BASE.format(tier=tier),
                api_key="bench",
                max_retries=0,
                http_client=self._http,  # type: ignore[arg-type]
            )
            for tier in ("small", "large")
        }

    def compile(self, checkpointer: Any) -> None:
        """No graph, no checkpointer."""

    async def _ask(self, tier: str, schema: type[BaseModel], system: str, **sections: Any) -> Any:
        return await self.ask_messages(
            tier, schema, [("system", system), ("user", render_sections(**sections))]
        )

    async def ask_messages(
        self, tier: str, schema: type[BaseModel], messages: list[tuple[str, str]]
    ) -> Any:
        """One structured call with these (role, content) messages."""
        payload: list[Any] = [{"role": role, "content": content} for role, content in messages]
        response = await self._clients[tier].chat.completions.create(
            model=f"sim-{tier}",
            messages=payload,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
            },
            max_tokens=512,
        )
        return schema.model_validate_json(response.choices[0].message.content or "")

    async def fan(self, schema: type[BaseModel], n: int) -> None:
        """`n` small-tier calls at once: the floor of an `n`-worker fan-out."""
        await asyncio.gather(
            *(
                self._ask(
                    "small", schema, "Summarise the piece in one line.", document=f"piece {k}"
                )
                for k in range(n)
            )
        )

    async def handle(self, ticket: dict[str, Any], thread_id: str) -> str:
        """Classify ∥ extract, look the facts up, decide, refund, reply."""
        text = _text(ticket)
        intent, entities = await asyncio.gather(
            self._ask("small", IntentClassification, CLASSIFY_INTENT_PROMPT, ticket=text),
            self._ask("small", TicketEntities, EXTRACT_ENTITIES_PROMPT, ticket=text),
        )
        found = entities.model_dump()
        facts = build_facts(self._store, ticket, found, RefundPolicy())
        decision = await self._ask(
            "large",
            RefundDecision,
            DECIDE_REFUND_PROMPT,
            ticket=text,
            entities=found,
            facts=dict(facts),
        )
        refund = await _issue(self._store, ticket, found, decision)
        await self._ask(
            "small",
            ReplyDraft,
            DRAFT_REPLY_PROMPT,
            ticket=text,
            classification=intent.model_dump(),
            outcome=_outcome(intent.intent, refund, facts),
        )
        return "resolved"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


class PlainState(TypedDict, total=False):
    """The plain graph's state: the ticket and each worker's answer."""

    ticket: dict[str, Any]
    intent: dict[str, Any]
    entities: dict[str, Any]
    decision: dict[str, Any]
    refund: dict[str, Any] | None
    reply: str
    steps: Annotated[list[str], operator.add]


class PlainLangGraph:
    """The same graph shape in plain LangGraph: what a competent developer would write."""

    name = "plain LangGraph"
    uses_checkpointer = True

    def __init__(self, sim: Simulator, store: Store) -> None:
        """ChatOpenAI per tier onto the simulator; the uncompiled builder."""
        self._store = store
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
        models = {
            tier: ChatOpenAI(
                model=f"sim-{tier}",
                base_url=SIM_BASE.format(tier=tier),
                api_key=SecretStr("bench"),
                max_retries=0,
                http_async_client=self._http,
                extra_body={"max_tokens": 512},
            )
            for tier in ("small", "large")
        }
        self.models = models
        self._ask: dict[tuple[str, type[BaseModel]], Any] = {
            (tier, schema): models[tier].with_structured_output(schema, method="json_schema")
            for tier in ("small", "large")
            for schema in (IntentClassification, TicketEntities, RefundDecision, ReplyDraft)
        }
        self.builder = self._builder()
        self.graph: Any = self.builder.compile()

    def _messages(self, system: str, **sections: Any) -> list[BaseMessage]:
        return [SystemMessage(system), HumanMessage(render_sections(**sections))]

    def _builder(self) -> StateGraph[Any, Any, Any, Any]:
        ask, messages, store = self._ask, self._messages, self._store

        async def classify(state: PlainState) -> dict[str, Any]:
            text = _text(state["ticket"])
            answer = await ask["small", IntentClassification].ainvoke(
                messages(CLASSIFY_INTENT_PROMPT, ticket=text)
            )
            return {"intent": answer.model_dump()}

        async def extract(state: PlainState) -> dict[str, Any]:
            text = _text(state["ticket"])
            answer = await ask["small", TicketEntities].ainvoke(
                messages(EXTRACT_ENTITIES_PROMPT, ticket=text)
            )
            return {"entities": answer.model_dump()}

        async def decide(state: PlainState) -> dict[str, Any]:
            ticket, entities = state["ticket"], state["entities"]
            facts = build_facts(store, ticket, entities, RefundPolicy())
            decision = await ask["large", RefundDecision].ainvoke(
                messages(
                    DECIDE_REFUND_PROMPT, ticket=_text(ticket), entities=entities, facts=dict(facts)
                )
            )
            record = await _issue(store, ticket, entities, decision)
            refund = dict(record) if record else None
            return {"decision": {**decision.model_dump(), "facts": dict(facts)}, "refund": refund}

        async def reply(state: PlainState) -> dict[str, Any]:
            facts = state["decision"]["facts"]
            outcome = _outcome(state["intent"]["intent"], state.get("refund"), facts)
            answer = await ask["small", ReplyDraft].ainvoke(
                messages(
                    DRAFT_REPLY_PROMPT,
                    ticket=_text(state["ticket"]),
                    classification=state["intent"],
                    outcome=outcome,
                )
            )
            return {"reply": answer.reply}

        builder = StateGraph(PlainState)
        for node in (classify, extract, decide, reply):
            builder.add_node(node.__name__, node)
        builder.add_edge(START, "classify")
        builder.add_edge(START, "extract")
        builder.add_edge(["classify", "extract"], "decide")
        builder.add_edge("decide", "reply")
        builder.add_edge("reply", END)
        return builder

    def compile(self, checkpointer: Any) -> None:
        """Compile with `checkpointer` (None: no checkpointer)."""
        self.graph = self.builder.compile(checkpointer=checkpointer)

    async def handle(self, ticket: dict[str, Any], thread_id: str) -> str:
        """Run the graph on one ticket."""
        config = {"configurable": {"thread_id": thread_id}}
        out = await self.graph.ainvoke({"ticket": ticket}, config)
        return "resolved" if out.get("reply") else "failed"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


def conductor_gateway(sim: Simulator, workdir: Path, **agents: dict[str, Any]) -> ModelGateway:
    """The sim profile's gateway onto `sim`, cache in `workdir`, extra agents registered."""
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(workdir / "cache.db")})
    for agent, fields in agents.items():
        settings = settings.with_agent(agent, **fields)
    return ModelGateway.from_settings(settings, transports=simulator_transports(settings, sim))


class ConductorGraph:
    """A Conductor workflow's graph, compiled from `make_builder(Resources)`."""

    uses_checkpointer = True

    def __init__(
        self,
        name: str,
        make_builder: Callable[[Resources], Any],
        gateway: ModelGateway,
        store: Store,
        payload: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        """Build the graph once; `payload` turns a ticket into the graph's input."""
        self.name = name
        self.gateway = gateway
        self.builder = make_builder(Resources(gateway=gateway, store=store))
        self._payload = payload
        self.graph: Any = self.builder.compile()

    def compile(self, checkpointer: Any) -> None:
        """Compile with `checkpointer` (None: no checkpointer)."""
        self.graph = self.builder.compile(checkpointer=checkpointer, name=self.name)

    async def handle(self, ticket: dict[str, Any], thread_id: str) -> str:
        """Run the graph on one input; return its status."""
        config = {"configurable": {"thread_id": thread_id}}
        out = await self.graph.ainvoke(self._payload(ticket), config)
        return str(out.get("status"))

    async def aclose(self) -> None:
        """Close the gateway's clients."""
        await self.gateway.aclose()


def conductor_support(sim: Simulator, store: Store, workdir: Path) -> ConductorGraph:
    """The `support` workflow."""
    from graphs.support import make_builder

    return ConductorGraph(
        "conductor support",
        make_builder,
        conductor_gateway(sim, workdir),
        store,
        lambda ticket: {"ticket": ticket},
    )


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat()
