"""`/metrics` and `/healthz` on the LangGraph dev server, after real runs through langgraph-sdk."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from langgraph_sdk import get_client
from prometheus_client.parser import text_string_to_metric_families

from telemetry.slo import fetch_slo

pytestmark = pytest.mark.server

SMALL_REFUND = {
    "ticket_id": "M-1",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "My order ORD-10001 is too small. Please refund the $35.00.",
    "channel": "email",
}
LARGE_REFUND = {
    "ticket_id": "M-2",
    "customer_id": "C002",
    "subject": "Refund",
    "body": "Order ORD-10002 headphones are bad. Refund the $120.00 please.",
    "channel": "web",
}


def totals(text: str) -> dict[str, float]:
    """Sum of every sample by sample name."""
    sums: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            sums[sample.name] += sample.value
    return sums


async def test_metrics_and_healthz_after_runs(dev_server: str) -> None:
    client = get_client(url=dev_server)
    thread = await client.threads.create()
    done = await client.runs.wait(thread["thread_id"], "support", input={"ticket": SMALL_REFUND})
    assert done["status"] == "resolved"
    waiting = await client.threads.create()
    await client.runs.wait(waiting["thread_id"], "support", input={"ticket": LARGE_REFUND})

    async with httpx.AsyncClient(base_url=dev_server, timeout=10) as http:
        page = await http.get("/metrics")
        own = await http.get("/conductor/metrics")
        health = await http.get("/healthz")

    assert page.status_code == 200 and own.status_code == 200
    for text in (page.text, own.text):
        sums = totals(text)
        assert sums["conductor_workflows_total"] >= 1
        assert sums["conductor_agent_execution_seconds_count"] >= 4
        assert sums["conductor_model_calls_total"] >= 4
        assert sums["conductor_cost_usd_total"] > 0
        assert sums["conductor_escalations_total"] >= 1
        for name in (
            "conductor_agent_errors_total",
            "conductor_circuit_state",
            "conductor_queue_depth",
            "conductor_cache_hits_total",
        ):
            assert f"# TYPE {name} " in text, name
    assert 'conductor_workflows_total{graph="support",status="resolved"}' in own.text

    assert health.status_code == 200
    body = health.json()
    endpoints = body["endpoints"]
    assert {"sim-small-a", "sim-small-b", "sim-large-a"} <= set(endpoints)
    assert all(info["state"] == "closed" for info in endpoints.values()), endpoints
    assert body["status"] == "ok" and body["tiers"] == {"small": True, "large": True}

    report = fetch_slo(dev_server)
    assert report.workflows >= 1 and report.escalation_rate is not None
    assert report.agent("classify_intent").p95_seconds is not None
