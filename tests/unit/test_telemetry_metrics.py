"""Metrics: the registry's exposition, /metrics and /healthz, the queue gauge, the SLO report."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from rich.console import Console
from starlette.testclient import TestClient

from telemetry import metrics
from telemetry.http_app import create_app
from telemetry.slo import (
    fetch_slo,
    histogram_quantile,
    metrics_url,
    slo_from_registry,
    slo_from_text,
    slo_table,
)

ISSUE_METRICS = (
    "conductor_agent_execution_seconds",
    "conductor_agent_errors_total",
    "conductor_model_calls_total",
    "conductor_circuit_state",
    "conductor_workflows_total",
    "conductor_escalations_total",
    "conductor_queue_depth",
    "conductor_cost_usd_total",
    "conductor_cache_hits_total",
)


@pytest.fixture(autouse=True)
def empty_queue() -> Any:
    metrics.WAITING.replace({})
    yield
    metrics.WAITING.replace({})


def test_registry_exposes_every_metric_of_the_issue() -> None:
    text = metrics.render_latest().decode()
    for name in ISSUE_METRICS:
        assert f"# TYPE {name} " in text, name
    buckets = [b for b in metrics.AGENT_EXECUTION_SECONDS._upper_bounds if b != float("inf")]  # noqa: SLF001
    assert buckets == [0.1, 0.5, 1.0, 2.0, 5.0, 10.0]


def test_metrics_route_serves_the_registry() -> None:
    metrics.AGENT_ERRORS.labels(agent="unit_test_agent", error_type="Boom").inc()
    with TestClient(create_app()) as client:
        for path in ("/metrics", "/conductor/metrics"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert (
                'conductor_agent_errors_total{agent="unit_test_agent",error_type="Boom"}'
                in response.text
            )


def test_expose_in_bridges_into_another_registry_once() -> None:
    host = CollectorRegistry()
    metrics.expose_in(host)
    metrics.expose_in(host)
    metrics.WORKFLOWS.labels(graph="unit", status="resolved").inc()
    text = generate_latest(host).decode()
    assert text.count("# TYPE conductor_workflows_total counter") == 1
    assert 'conductor_workflows_total{graph="unit",status="resolved"}' in text


def test_start_metrics_server_serves_the_registry_on_loopback() -> None:
    server, thread = metrics.start_metrics_server(0)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        response = httpx.get(f"{url}/metrics", timeout=5)
        assert response.status_code == 200
        assert "# TYPE conductor_agent_execution_seconds histogram" in response.text
        report = fetch_slo(url)
        assert report.source == f"{url}/metrics"
    finally:
        server.shutdown()
        server.server_close()
    thread.join(timeout=5)


def test_set_circuit_state() -> None:
    metrics.set_circuit_state("sim-small-1", "open")
    metrics.set_circuit_state("sim-small-1", "half_open")
    assert metrics.CIRCUIT_STATE.labels(endpoint="sim-small-1")._value.get() == 1  # noqa: SLF001
    with pytest.raises(ValueError, match="unknown circuit state"):
        metrics.set_circuit_state("sim-small-1", "melted")


def test_waiting_runs_are_counted_once_and_never_below_zero() -> None:
    metrics.WAITING.mark("t-1", "review")
    metrics.WAITING.mark("t-1", "review")  # a node that ran again after a resume
    metrics.WAITING.mark("t-2", "parked")
    metrics.WAITING.release("t-unknown")  # resumed by another process
    assert metrics.QUEUE_DEPTH.collect()[0].samples[0].value == 2
    assert metrics.WAITING.by_kind() == {"review": 1, "parked": 1}
    metrics.WAITING.release("t-1")
    assert "conductor_queue_depth 1.0" in metrics.render_latest().decode()


class WaitState(TypedDict, total=False):
    answer: str
    seen: Annotated[list[str], operator.add]


async def wait_for_reviewer(state: WaitState) -> dict[str, Any]:
    metrics.mark_waiting("review")
    answer = interrupt({"kind": "review"})
    metrics.mark_released()
    return {"answer": answer}


async def test_mark_waiting_uses_the_run_thread_id() -> None:
    builder = StateGraph(WaitState)
    builder.add_node(wait_for_reviewer)
    builder.add_edge(START, "wait_for_reviewer")
    builder.add_edge("wait_for_reviewer", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "wf-waiting"}}
    await graph.ainvoke({"seen": []}, config)
    assert metrics.WAITING.count() == 1
    await graph.ainvoke(Command(resume="approve"), config)
    assert metrics.WAITING.count() == 0
    metrics.mark_waiting("parked")  # outside a run: nothing to count
    assert metrics.WAITING.count() == 0


def test_healthz_reports_each_endpoint_circuit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from gateway.gateway import ModelGateway
    from gateway.registry import GatewaySettings
    from simulator.transport import simulator_transports

    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(tmp_path / "cache.db")})
    real = ModelGateway.from_settings(settings, transports=simulator_transports(settings))
    for endpoint in ("sim-small-a", "sim-large-a"):  # open two circuits the real way
        breaker = real.breaker(endpoint)
        for _ in range(breaker.failure_threshold):
            permit = breaker.try_acquire()
            assert permit is not None
            breaker.record_failure(permit)
    from nodes import resources as resources_module
    from store.db import Store

    bound = resources_module.Resources(gateway=real, store=Store(tmp_path / "store.db"))
    monkeypatch.setattr(resources_module, "_server", bound)
    metrics.WAITING.mark("t-9", "parked")
    with TestClient(create_app()) as client:
        response = client.get("/healthz")
        body = response.json()
    assert response.status_code == 503, "a tier with no provider able to serve is not healthy"
    assert body["endpoints"]["sim-small-a"]["state"] == "open"
    assert body["endpoints"]["sim-small-b"]["state"] == "closed"
    assert body["tiers"] == {"small": True, "large": False}
    assert body["status"] == "degraded"
    assert body["queue"] == {"parked": 1}
    assert metrics.CIRCUIT_STATE.labels(endpoint="sim-large-a")._value.get() == 2  # noqa: SLF001


def test_histogram_quantile_matches_promql() -> None:
    buckets = [(0.1, 0.0), (0.5, 10.0), (1.0, 20.0), (float("inf"), 20.0)]
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.95)  # promtool says the same
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5)
    assert histogram_quantile(0.95, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0
    assert histogram_quantile(0.95, [(1.0, 0.0), (float("inf"), 0.0)]) is None
    with pytest.raises(ValueError, match="quantile"):
        histogram_quantile(1.5, buckets)


def private_registry() -> tuple[CollectorRegistry, dict[str, Any]]:
    registry = CollectorRegistry()
    made = {
        "latency": Histogram(
            "conductor_agent_execution_seconds",
            "x",
            ["agent", "tier"],
            buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0),
            registry=registry,
        ),
        "errors": Counter(
            "conductor_agent_errors_total", "x", ["agent", "error_type"], registry=registry
        ),
        "workflows": Counter(
            "conductor_workflows_total", "x", ["graph", "status"], registry=registry
        ),
        "escalations": Counter("conductor_escalations_total", "x", ["reason"], registry=registry),
        "queue": Gauge("conductor_queue_depth", "x", registry=registry),
    }
    return registry, made


def test_slo_report_from_a_scrape() -> None:
    registry, m = private_registry()
    for _ in range(18):
        m["latency"].labels(agent="classify_intent", tier="small").observe(0.05)
    for _ in range(2):
        m["latency"].labels(agent="classify_intent", tier="large").observe(3.0)
    for _ in range(10):
        m["latency"].labels(agent="decide_refund", tier="large").observe(0.7)
    m["errors"].labels(agent="classify_intent", error_type="RateLimited").inc(2)
    m["errors"].labels(agent="classify_intent", error_type="gate_format").inc(3)
    m["errors"].labels(agent="draft_reply", error_type="Timeout").inc()
    m["workflows"].labels(graph="support", status="resolved").inc(7)
    m["workflows"].labels(graph="support", status="rejected").inc(1)
    m["escalations"].labels(reason="refund_above_auto_limit").inc(2)
    m["queue"].set(3)

    report = slo_from_text(generate_latest(registry).decode(), source="test")
    classify = report.agent("classify_intent")
    assert classify.executions == 20 and classify.errors == 5
    assert classify.error_rate == pytest.approx(0.25)
    # 95% of 20 is rank 19, in the (2, 5] bucket that holds observations 19 and 20.
    assert classify.p95_seconds == pytest.approx(2 + 3 * (19 - 18) / 2)
    decide = report.agent("decide_refund")
    assert decide.error_rate == 0 and decide.p95_seconds == pytest.approx(0.5 + 0.5 * 0.95)
    draft = report.agent("draft_reply")
    assert draft.executions == 0 and draft.error_rate == 1.0 and draft.p95_seconds is None
    assert report.queue_depth == 3
    # 8 finished plus 3 waiting runs were started; 2 of them went to a human.
    assert report.workflows == 11 and report.escalations == 2
    assert report.escalation_rate == pytest.approx(2 / 11)
    assert report.escalations_by_reason == {"refund_above_auto_limit": 2}
    assert report.as_dict()["agents"][0]["agent"] == "classify_intent"

    console = Console(record=True, width=120)
    console.print(slo_table(report))
    rendered = console.export_text()
    expected = ("classify_intent", "25.0%", "3.500", "queue depth", "human-escalation rate", "2/11")
    for text in expected:
        assert text in rendered, text


def test_slo_report_on_an_empty_registry_and_urls() -> None:
    registry, _ = private_registry()
    report = slo_from_text(generate_latest(registry).decode())
    assert report.agents == [] and report.escalation_rate is None and report.queue_depth == 0
    console = Console(record=True, width=120)
    console.print(slo_table(report))
    assert "no agent executions" in console.export_text()
    assert slo_from_registry().source == "this process"
    assert metrics_url("http://127.0.0.1:2024") == "http://127.0.0.1:2024/metrics"
    assert metrics_url("http://h:1/conductor/metrics") == "http://h:1/conductor/metrics"
