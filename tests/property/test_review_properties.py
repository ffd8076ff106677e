"""Properties of the review node: any resume payload against an escalated run."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, event, given, settings
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from property_strategies import REVIEW_PAYLOADS
from pydantic import ValidationError

from evals.audit import audit_refunds
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from graphs.support import make_builder
from nodes.resources import Resources
from nodes.support.review import ReviewDecision
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from store.db import Store
from store.seed import seed_store

LARGE_REFUND = {
    "ticket_id": "T-2",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "email",
}
TOTAL = 120.0


@dataclass
class Escalated:
    """The graph and store every example escalates a fresh run on; one loop for them all."""

    loop: asyncio.AbstractEventLoop
    store: Store
    graph: Any

    def reset_ledger(self) -> None:
        """Take the refunds an example issued out of the ledger (the next one starts clean)."""
        with sqlite3.connect(self.store.path) as conn:
            conn.execute("DELETE FROM refunds")


@pytest.fixture(scope="module")
def escalated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Escalated]:
    root = tmp_path_factory.mktemp("review-props")
    seed_store(root / "conductor.db")
    sim = Simulator(error_model=ErrorModel.ideal(), faults=FaultSpec())
    gw_settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(root / "cache.db")})
    gateway = ModelGateway.from_settings(
        gw_settings, transports=simulator_transports(gw_settings, sim)
    )
    loop = asyncio.new_event_loop()
    with Store(root / "conductor.db") as store:
        graph = make_builder(Resources(gateway=gateway, store=store)).compile(
            checkpointer=InMemorySaver(), name="support"
        )
        try:
            yield Escalated(loop, store, graph)
        finally:
            loop.run_until_complete(gateway.aclose())
            loop.close()


def expected_outcome(payload: Any) -> tuple[str, float | None]:
    """(status, refund amount) a payload must lead to; status `escalated` means asked again."""
    try:
        decision = ReviewDecision.model_validate(payload)
    except ValidationError:
        return "escalated", None
    if decision.decision == "reject":
        return "denied", None
    if decision.decision == "approve":
        return "resolved", TOTAL
    assert decision.amount is not None
    if round(decision.amount * 100) > round(TOTAL * 100):
        return "escalated", None
    return "resolved", decision.amount


async def review_once(run: Escalated, payload: Any) -> None:
    store, graph = run.store, run.graph
    config: Any = {"configurable": {"thread_id": uuid.uuid4().hex}}
    await graph.ainvoke({"ticket": LARGE_REFUND}, config)
    assert (await graph.aget_state(config)).values["status"] == "escalated"
    ledger_before = store.all_refunds()
    await graph.ainvoke(Command(resume=payload), config)  # nothing may escape
    snapshot = await graph.aget_state(config)
    values = snapshot.values
    status, amount = expected_outcome(payload)
    event(f"expected: {status}" + (" with a refund" if amount else ""))
    if status == "escalated":
        assert values["status"] == "escalated"
        assert snapshot.next == ("escalate_to_human",)
        (pending,) = snapshot.interrupts
        if payload != {}:  # LangGraph reads `{}` as an empty map of answers: nothing resumes
            error = pending.value["error"]
            assert error and ("resume" in error or "exceeds the order total" in error)
        assert store.all_refunds() == ledger_before, "a refused answer changed the store"
        assert not (values.get("refund") or {}).get("issued")
    else:
        assert values["status"] == status, (payload, values["status"])
        refunds = store.all_refunds()
        if amount is None:
            assert refunds == [] and not (values.get("refund") or {}).get("issued")
        else:
            assert [r["amount"] for r in refunds] == [round(amount, 2)]
            assert values["refund"]["issued"] is True
    reviewed = {"T-2"} if values.get("review") else set()
    violations = audit_refunds(
        store.all_refunds(), store.get_order, {"T-2": "C002"}, reviewed=reviewed
    )
    assert violations == []


@settings(max_examples=60)
@given(payload=REVIEW_PAYLOADS)
def test_any_resume_payload_is_safe(escalated: Escalated, payload: Any) -> None:
    """Never a crash; a bad answer is asked again with its error; no refund unless approved.

    (`Command(resume=None)` is left out: LangGraph 1.2 itself raises UnboundLocalError on
    it; neither the CLI nor the server (the SDK drops a None command) can send it.)
    """
    assume(payload is not None)
    try:
        escalated.loop.run_until_complete(review_once(escalated, payload))
    finally:
        escalated.reset_ledger()
