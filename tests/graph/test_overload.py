"""Overload: hundreds of tickets submitted at once finish; none parks or escalates on our queue."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from bench.workload import Workload
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from graphs.support import make_builder
from nodes.resources import Resources
from simulator.engine import SimResponse, Simulator
from simulator.error_model import ErrorModel
from simulator.transport import simulator_transports

TICKETS = int(os.environ.get("CONDUCTOR_OVERLOAD_TICKETS", "100"))
"""Tickets submitted at once (raise to 300 or 1000 on an idle machine)."""
MAX_IN_FLIGHT = 16


class CountingSimulator(Simulator):
    """A simulator that records how many requests it serves at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = 0
        self.peak = 0

    async def complete(self, payload: Any) -> SimResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await super().complete(payload)
        finally:
            self.in_flight -= 1


@pytest.mark.slow
async def test_hundreds_of_tickets_at_once_all_resolve(tmp_path: Path) -> None:
    sim = CountingSimulator(error_model=ErrorModel.ideal(), latency_s=0.05)
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db")})
    for endpoint in settings.profile.endpoints:
        settings = settings.with_endpoint(endpoint.name, max_in_flight=MAX_IN_FLIGHT)
    gateway = ModelGateway.from_settings(settings, transports=simulator_transports(settings, sim))
    work = Workload.open(tmp_path)
    graph = make_builder(Resources(gateway=gateway, store=work.store)).compile(
        checkpointer=InMemorySaver()
    )

    async def one(ticket: dict[str, Any]) -> dict[str, Any]:
        config = {"configurable": {"thread_id": ticket["ticket_id"]}}
        return dict(await graph.ainvoke({"ticket": ticket}, config))

    try:
        outs = await asyncio.gather(*(one(t) for t in work.tickets(TICKETS, "load")))
    finally:
        await gateway.aclose()
        work.close()
    statuses = Counter(out["status"] for out in outs)
    assert statuses == {"resolved": TICKETS}, statuses
    assert all(out["refund"]["issued"] for out in outs)
    unavailable = [e for out in outs for e in out.get("errors") or [] if "unavailable" in e["kind"]]
    assert unavailable == []
    # Admission control: never more requests at once than the endpoints' permits.
    endpoints = len(settings.profile.endpoints)
    assert sim.peak <= MAX_IN_FLIGHT * endpoints
    assert all(s["state"] == "closed" for s in gateway.health().values())
