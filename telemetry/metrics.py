"""Prometheus metrics of Conductor: one registry shared by the server, the CLI and the gateway."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Metric,
    generate_latest,
    start_http_server,
)
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
"""The registry `/metrics` and `--metrics-port` expose (not the global default registry)."""

AGENT_EXECUTION_SECONDS = Histogram(
    "conductor_agent_execution_seconds",
    "Time spent executing an agent (model call included), by agent and tier.",
    ["agent", "tier"],
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0),
    registry=REGISTRY,
)
AGENT_ERRORS = Counter(
    "conductor_agent_errors_total",
    "Agent failures (model errors and gate refusals), by agent and error type.",
    ["agent", "error_type"],
    registry=REGISTRY,
)
MODEL_CALLS = Counter(
    "conductor_model_calls_total",
    "Model calls by endpoint and outcome (ok, error, timeout, rate_limited, invalid, "
    "circuit_open, cached).",
    ["endpoint", "outcome"],
    registry=REGISTRY,
)
CIRCUIT_STATE = Gauge(
    "conductor_circuit_state",
    "Circuit breaker state by endpoint: 0 closed, 1 half-open, 2 open.",
    ["endpoint"],
    registry=REGISTRY,
)
WORKFLOWS = Counter(
    "conductor_workflows_total",
    "Workflow runs that reached a status, by graph and status.",
    ["graph", "status"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "conductor_escalations_total",
    "Human escalations by reason.",
    ["reason"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "conductor_queue_depth",
    "Runs waiting on something outside the machine: parked runs plus pending reviews.",
    registry=REGISTRY,
)
COST_USD = Counter(
    "conductor_cost_usd_total",
    "Model spend in USD (endpoint prices from the registry), by agent and model.",
    ["agent", "model"],
    registry=REGISTRY,
)
CACHE_HITS = Counter(
    "conductor_cache_hits_total",
    "Model responses served from the response cache, by agent.",
    ["agent"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "conductor_model_tokens_total",
    "Tokens sent and received, by endpoint and direction (input, output).",
    ["endpoint", "direction"],
    registry=REGISTRY,
)
REFUNDS = Counter(
    "conductor_refunds_total",
    "Refund attempts through the ledger, by outcome: issued (a new ledger record), replayed "
    "(the run's own idempotency key was found: already done), refused (the ledger refused).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("issued", "replayed", "refused"):
    REFUNDS.labels(outcome=_outcome)  # every outcome is exported from the start, at 0

CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
"""The value `conductor_circuit_state` takes for each breaker state name."""


def set_circuit_state(endpoint: str, state: str) -> None:
    """Publish an endpoint's breaker state ("closed", "half_open", "open") as a gauge value.

    The gauge is `conductor_circuit_state`.

    Raises:
        ValueError: On a state name the gauge has no value for.
    """
    try:
        value = CIRCUIT_STATE_VALUES[state.lower()]
    except KeyError:
        raise ValueError(f"unknown circuit state {state!r}") from None
    CIRCUIT_STATE.labels(endpoint=endpoint).set(value)


class WaitingRuns:
    """The runs waiting on something outside the machine, by workflow id: `conductor_queue_depth`.

    Marking is idempotent, so a node that runs again after a resume never counts its run
    twice, and releasing a run this process never saw waiting is a no-op (a resume from
    another process cannot drive the gauge below zero).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, str] = {}

    def mark(self, workflow_id: str, kind: str) -> None:
        """Record that `workflow_id` waits (kind "review" or "parked")."""
        with self._lock:
            self._waiting[workflow_id] = kind

    def release(self, workflow_id: str) -> None:
        """Record that `workflow_id` no longer waits."""
        with self._lock:
            self._waiting.pop(workflow_id, None)

    def replace(self, waiting: Mapping[str, str]) -> None:
        """Replace what is known with a fresh listing (e.g. from the store at CLI start)."""
        with self._lock:
            self._waiting = dict(waiting)

    def count(self) -> int:
        """How many runs wait right now."""
        with self._lock:
            return len(self._waiting)

    def by_kind(self) -> dict[str, int]:
        """How many runs wait, by kind."""
        with self._lock:
            counts: dict[str, int] = {}
            for kind in self._waiting.values():
                counts[kind] = counts.get(kind, 0) + 1
            return counts


WAITING = WaitingRuns()
"""The process's waiting runs; `conductor_queue_depth` reads its count at every scrape."""
QUEUE_DEPTH.set_function(WAITING.count)


def current_workflow_id() -> str | None:
    """The thread id of the run this code executes in, if any (LangGraph's run config)."""
    from langgraph.config import get_config

    try:
        config = get_config()
    except RuntimeError:
        return None
    thread_id = (config.get("configurable") or {}).get("thread_id")
    return str(thread_id) if thread_id is not None else None


def mark_waiting(kind: str, workflow_id: str | None = None) -> None:
    """Count the current run (or `workflow_id`) in `conductor_queue_depth` as waiting on `kind`."""
    wid = workflow_id or current_workflow_id()
    if wid is not None:
        WAITING.mark(wid, kind)


def mark_released(workflow_id: str | None = None) -> None:
    """Stop counting the current run (or `workflow_id`) in `conductor_queue_depth`."""
    wid = workflow_id or current_workflow_id()
    if wid is not None:
        WAITING.release(wid)


class _RegistryBridge(Collector):
    """Yields the families of another registry, so a host's registry can expose ours."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


_bridged: set[int] = set()


def expose_in(target: CollectorRegistry) -> None:
    """Make `target` (e.g. prometheus_client's default registry) serve Conductor's metrics too.

    The LangGraph server answers `/metrics` itself from prometheus_client's default registry
    and does not let a custom app shadow that route; bridging ours into it puts Conductor's
    metrics on that very page. Calling it again for the same target does nothing.
    """
    if id(target) in _bridged or target is REGISTRY:
        return
    target.register(_RegistryBridge(REGISTRY))
    _bridged.add(id(target))


def render_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The Prometheus text exposition of `registry`."""
    return generate_latest(registry)


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `registry` at http://ADDR:PORT/metrics in a daemon thread (the CLI's --metrics-port).

    Args:
        port: TCP port; 0 picks a free one (read it from `server.server_port`).
        addr: Interface to bind; loopback by default.
        registry: The registry to serve; Conductor's by default.

    Returns:
        The WSGI server and its thread; call `server.shutdown()` to stop serving.
    """
    return start_http_server(port, addr=addr, registry=registry)
